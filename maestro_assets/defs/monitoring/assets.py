"""ML readiness per model: the phase checklist judged from the platform's own evidence (checks,
materializations, the registry, the audit and drift tables) and the model card."""

from dagster import (
    AssetCheckKey,
    AssetExecutionContext,
    AssetKey,
    AssetsDefinition,
    MaterializeResult,
    MetadataValue,
    asset,
)

from ...lib.feature_store.services import FEATURE_SERVICES
from ...lib.feature_store.training import TRAINING_SETS
from ...lib.models.lifecycle import current_alias, drift_history, model_uri, training_set_name
from ...lib.models.readiness import CheckEvidence, Evidence, checklist, checklist_markdown, model_card
from ...lib.models.registry import ModelRegistry, UnknownModel
from ...lib.models.requirements import ModelRequirements
from ...lib.models.training import TAG_SNAPSHOT
from ...resources import FeatureStoreResource, MlflowResource, WarehouseResource
from ..config import MODELS
from ..feature_store.assets import REGISTRY_KEY
from ..features.assets import INPUTS, gold_key, silver_input_key
from ..models.assets import (
    REQUIREMENTS_CHECK,
    SERVING_CHECK,
    model_key,
    predictions_key,
    promotion_key,
    serving_key,
)

GROUP = "monitoring"
SILVER_INPUTS = ("events", "tasks", "users", "projects", "teams")


def _check(instance, key: AssetKey, name: str) -> tuple[CheckEvidence, dict]:
    """The check's latest evaluation, and its metadata (empty when it was never evaluated)."""
    found = instance.event_log_storage.get_latest_asset_check_execution_by_key([AssetCheckKey(key, name)])
    record = next(iter(found.values()), None)
    label = f"{key.to_user_string()}:{name}"
    if record is None or record.event is None or record.event.dagster_event is None:
        return CheckEvidence(label, None), {}
    data = record.event.dagster_event.event_specific_data
    if not hasattr(data, "passed"):  # planned in a run that never evaluated it (a blocked step)
        return CheckEvidence(label, None, record.run_id, f"planned in run {record.run_id}, not evaluated"), {}
    return CheckEvidence(label, bool(data.passed), record.run_id, data.description or ""), dict(data.metadata)


def gather_evidence(context, req: ModelRequirements, tracking, warehouse, feature_store) -> Evidence:
    instance = context.instance
    spec = TRAINING_SETS[training_set_name(req)]
    silver = {}
    for attribute in SILVER_INPUTS:
        table = getattr(INPUTS, attribute)
        event = instance.get_latest_materialization_event(silver_input_key(table))
        if event is not None:
            metadata = event.asset_materialization.metadata
            if "rows_in" in metadata:
                silver[table] = (int(metadata["rows_in"].value), int(metadata["rows_quarantined"].value))
    registry_event = instance.get_latest_materialization_event(REGISTRY_KEY)
    try:
        feature_store.client().get_feature_service(spec.service)
        registered = True
    except Exception:  # not applied yet, or the registry is unreachable: not evidence either way
        registered = False
    registry = ModelRegistry(tracking, warehouse)
    champion = current_alias(registry, req.name, "champion")
    try:
        audit = registry.history(req.name)
    except UnknownModel:
        audit = None
    tags, holdout, features, requirements_table = {}, {}, [], ""
    if champion is not None:
        version = tracking.client.get_model_version(req.name, champion)
        tags = dict(version.tags)
        metrics = tracking.client.get_run(version.run_id).data.metrics
        holdout = {k.removeprefix("holdout_"): v for k, v in metrics.items() if k.startswith("holdout_")}
        import mlflow

        mlflow.set_tracking_uri(tracking.tracking_uri)
        features = mlflow.models.get_model_info(model_uri(req.name, champion)).signature.inputs.input_names()
    requirements_check, requirements_metadata = _check(instance, model_key(req.name), REQUIREMENTS_CHECK)
    if "requirements" in requirements_metadata:
        requirements_table = requirements_metadata["requirements"].value
    import pandas as pd

    return Evidence(
        model=req.name,
        silver_tables=silver,
        feature_service=spec.service,
        features_registered=registered,
        registry_run=registry_event.run_id if registry_event else None,
        requirements_check=requirements_check,
        champion_version=champion,
        champion_tags=tags,
        audit=audit if audit is not None else pd.DataFrame(columns=["alias", "version", "action"]),
        serving_check=_check(instance, serving_key(req.name), SERVING_CHECK)[0],
        drift_days=drift_history(warehouse, req.name),
        holdout=holdout,
        training_set=req.training_set,
        snapshot=tags.get(TAG_SNAPSHOT, ""),
        features=list(features),
        lineage=[
            *(f"silver/{getattr(INPUTS, a)}" for a in SILVER_INPUTS),
            *(gold_key(e).to_user_string() for e in FEATURE_SERVICES[spec.service]),
            REGISTRY_KEY.to_user_string(),
            req.training_set,
            model_key(req.name).to_user_string(),
            serving_key(req.name).to_user_string(),
            promotion_key(req.name).to_user_string(),
            predictions_key(req.name).to_user_string(),
        ],
        requirements_table=requirements_table,
    )


def build_readiness_asset(req: ModelRequirements) -> AssetsDefinition:
    @asset(
        key=AssetKey(f"ml_readiness_{req.name}"),
        description=f"The ML phase checklist of `{req.name}` — data quality, features registered, baselines met, "
        "registered, promotion audited, serving load-tested, rollback tested, drift detection running — each item "
        "judged from the platform's evidence and naming it; and the model card (also logged to the champion's "
        "MLflow run as model_card.md).",
        group_name=GROUP,
        owners=["team:ml-platform"],
        kinds={"mlflow"},
        deps=[promotion_key(req.name), predictions_key(req.name)],
    )
    def ml_readiness(
        context: AssetExecutionContext,
        mlflow: MlflowResource,
        warehouse: WarehouseResource,
        feature_store: FeatureStoreResource,
    ) -> MaterializeResult:
        tracking = mlflow.client()
        evidence = gather_evidence(context, req, tracking, warehouse.client(), feature_store)
        items = checklist(evidence)
        card = model_card(evidence, items)
        if evidence.champion_version is not None:
            run_id = tracking.client.get_model_version(req.name, evidence.champion_version).run_id
            tracking.client.log_text(run_id, card, "model_card.md")
        return MaterializeResult(
            metadata={
                "ready": f"{sum(i.passed for i in items)}/{len(items)}",
                "items_ready": sum(i.passed for i in items),
                "not_ready": ", ".join(i.item for i in items if not i.passed) or "none",
                "checklist": MetadataValue.md(checklist_markdown(items)),
                "model_card": MetadataValue.md(card),
                "champion": evidence.champion_version or "none",
            }
        )

    return ml_readiness


READINESS_ASSETS = [build_readiness_asset(req) for req in MODELS.values()]
