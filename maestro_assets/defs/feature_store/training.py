"""Training sets: labels from silver with Feast's point-in-time features, snapshot and manifest."""

from datetime import UTC, datetime

from dagster import AssetKey, AssetsDefinition, MaterializeResult, MetadataValue, asset

from ...lib.feature_store.services import FEATURE_SERVICES
from ...lib.feature_store.training import LABEL, SPLIT, TRAINING_SETS, TrainingSetSpec, build_training_set
from ...resources import FeatureStoreResource, LakeResource
from ..failures import RETRY, bad_input_fails_fast
from ..features.assets import INPUTS, gold_key, silver_input_key
from .assets import GROUP, REGISTRY_KEY

PREVIEW_ROWS = 10


def training_set_key(spec: TrainingSetSpec) -> AssetKey:
    return AssetKey(f"training_set_{spec.name}")


def build_training_set_asset(spec: TrainingSetSpec) -> AssetsDefinition:
    label_table = INPUTS.tasks if spec.name == "task_lateness" else INPUTS.projects

    @asset(
        key=training_set_key(spec),
        description=f"Training set `{spec.name}`: {spec.description} Point-in-time features of the "
        f"`{spec.service}` feature service; min-max scaling and median imputation fitted on the train split "
        f"(the earliest {1 - spec.holdout_fraction:.0%} by label time) and saved in the manifest.",
        group_name=GROUP,
        owners=["team:ml-platform"],
        kinds={"feast", "parquet"},
        deps=[REGISTRY_KEY, silver_input_key(label_table), *(gold_key(e) for e in FEATURE_SERVICES[spec.service])],
        retry_policy=RETRY,
    )
    @bad_input_fails_fast
    def training_set(lake: LakeResource, feature_store: FeatureStoreResource) -> MaterializeResult:
        store = lake.client()
        built = build_training_set(feature_store.client(), store, spec, INPUTS, datetime.now(UTC))
        frame, manifest = built.frame, built.manifest
        base = store.url.rstrip("/")
        preview = frame.head(PREVIEW_ROWS)
        return MaterializeResult(
            metadata={
                "dagster/row_count": len(frame),
                "rows_train": manifest["rows_train"],
                "rows_holdout": len(frame) - manifest["rows_train"],
                "label_mean": float(frame[LABEL].mean()),
                "features": len(manifest["feature_references"]),
                "as_of": manifest["as_of"],
                "holdout_from": manifest["holdout_from"],
                "manifest": MetadataValue.path(f"{base}/{manifest['manifest']}"),
                "splits": MetadataValue.json(frame[SPLIT].value_counts().to_dict()),
                "preview": MetadataValue.md(preview.to_markdown(index=False)),
            }
        )

    return training_set


TRAINING_SET_ASSETS = [build_training_set_asset(spec) for spec in TRAINING_SETS.values()]
