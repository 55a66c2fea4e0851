"""Project success prediction in Dagster: the meta-model over the organisation's own projects.

``project_success_predictions`` reads the projects, tasks, users and teams the gold features read
(the features inputs, ``MAESTRO_FEATURES``), the artifact uses of ``analytics.yaml``'s
``success_prediction.artifact_usage`` and the weekly git collaboration scores already in the
warehouse; copies projects and team members into the analytics tables; trains
:class:`~maestro_assets.lib.analytics.success.SuccessPredictor` (one AutoML regressor per outcome,
split-conformal intervals, coverage measured on held-back projects); appends a prediction with its
interval for every project still running to ``analytics_predictions``; and recommends a team size
per complexity band. The model is refitted on every run: the history is one row per project, so a
fit takes seconds, and the predictions always come from the projects as they are now.

With fewer finished projects than the meta-model needs, the run still copies the tables and
succeeds, predicts nothing, and its check ``meta_model_trained`` warns with the count.
"""

from datetime import UTC, datetime

import pandas as pd
from dagster import (
    AssetCheckResult,
    AssetCheckSeverity,
    AssetCheckSpec,
    AssetExecutionContext,
    Config,
    MaterializeResult,
    MetadataValue,
    asset,
)
from pydantic import Field

from ...lib.analytics.plots import interval_coverage_plot
from ...lib.analytics.projects import (
    collaboration_before_start,
    sync_projects,
    sync_team_members,
    write_predictions,
)
from ...lib.analytics.success import (
    FEATURES,
    MIN_FINISHED_PROJECTS,
    SuccessPredictionError,
    SuccessPredictor,
    TooFewProjectsError,
    early_artifact_reuse,
    project_history,
    team_size_recommendation,
)
from ...lib.errors import LakeKeyError
from ...lib.models.plots import markdown_image
from ...lib.quality.silver import PARTITION_COLUMN
from ...resources import LakeResource, WarehouseResource
from ..config import ANALYTICS
from ..failures import RETRY, bad_input_fails_fast
from ..features.assets import INPUTS, silver_input_key
from .assets import GROUP, OWNER, _md, analytics_library, git_weekly_metrics

TRAINED_CHECK = "meta_model_trained"
PREVIEW = 20
USAGE_TABLE = ANALYTICS.success_prediction.artifact_usage


class SuccessPredictionRunConfig(Config):
    max_trials: int = Field(default=8, ge=1, description="AutoML trials per outcome (success, duration, cost)")
    time_budget_s: float | None = Field(default=None, gt=0, description="seconds per outcome instead of trials")
    families: list[str] | None = Field(default=None, description="AutoML model families; default all regressors")
    coverage: float = Field(default=0.8, gt=0, lt=1, description="the prediction intervals' nominal coverage")
    random_state: int = 0


def _silver(lake, table: str, role: str) -> pd.DataFrame:
    """The whole silver table: every daily partition of a table with a watermark, else its snapshot."""
    try:
        if lake.partitions("silver", table):
            return lake.read_table("silver", table, PARTITION_COLUMN).drop(columns=PARTITION_COLUMN)
        return lake.read_table("silver", table)
    except LakeKeyError:
        raise SuccessPredictionError(
            f"the success meta-model reads silver/{table} ({role}), which is not in the lake: materialize it first"
        ) from None


def _advice_table(advice: pd.DataFrame) -> pd.DataFrame:
    if advice.empty:
        return advice
    shown = advice[["band", "n_projects", "recommended_team_size", "predicted_success_score"]].copy()
    shown["predicted score by team size"] = advice["predicted_score_by_size"].map(
        lambda scores: ", ".join(f"{size}: {score:.1f}" for size, score in scores.items())
    )
    shown["rule"] = advice["rule"]
    return shown.round(2)


@asset(
    name="project_success_predictions",
    group_name=GROUP,
    owners=[OWNER],
    kinds={"scikitlearn", "sql"},
    deps=[silver_input_key(t) for t in (INPUTS.projects, INPUTS.tasks, INPUTS.users, INPUTS.teams)]
    + ([silver_input_key(USAGE_TABLE)] if USAGE_TABLE else [])
    + [git_weekly_metrics],
    check_specs=[
        AssetCheckSpec(
            TRAINED_CHECK,
            asset="project_success_predictions",
            description=f"The meta-model was trained: at least {MIN_FINISHED_PROJECTS} finished projects.",
        )
    ],
    retry_policy=RETRY,
    description="The success meta-model over the organisation's projects: success score, duration and cost of "
    "every running project with split-conformal intervals (coverage measured on held-back projects), in "
    "analytics_predictions; a team-size recommendation per complexity band; projects and team members copied "
    "into the analytics tables.",
)
@bad_input_fails_fast
def project_success_predictions(
    context: AssetExecutionContext, config: SuccessPredictionRunConfig, lake: LakeResource, warehouse: WarehouseResource
):
    store = lake.client()
    projects = _silver(store, INPUTS.projects, "projects")
    tasks = _silver(store, INPUTS.tasks, "tasks")
    users = _silver(store, INPUTS.users, "users")
    teams = _silver(store, INPUTS.teams, "teams")
    library = analytics_library(warehouse)
    project_ids = sync_projects(library, projects, teams)
    members = sync_team_members(library.engine, users, teams)
    reuse = early_artifact_reuse(_silver(store, USAGE_TABLE, "artifact usage"), projects) if USAGE_TABLE else None
    collaboration = collaboration_before_start(library.engine, projects, users)
    history = project_history(projects, tasks, users, teams, reuse=reuse, collaboration=collaboration)
    finished = int(history["finished"].sum())
    metadata = {
        "projects": len(history),
        "finished_projects": finished,
        "team_members": members,
        "features": MetadataValue.md(
            pd.DataFrame({"feature": list(FEATURES), "known at the start as": list(FEATURES.values())}).to_markdown(
                index=False
            )
        ),
        "projects_with_collaboration_score": int(history["collaboration_score"].notna().sum()),
    }
    predictor = SuccessPredictor(
        time_budget_s=config.time_budget_s,
        max_trials=None if config.time_budget_s else config.max_trials,
        families=config.families,
        coverage=config.coverage,
        random_state=config.random_state,
    )
    try:
        predictor.fit(history)
    except TooFewProjectsError as exc:
        context.log.warning(f"the success meta-model is not trained: {exc}")
        return MaterializeResult(
            metadata={**metadata, "predictions_written": 0, "trained": False},
            check_results=[
                AssetCheckResult(
                    check_name=TRAINED_CHECK,
                    passed=False,
                    severity=AssetCheckSeverity.WARN,
                    metadata={"finished_projects": finished, "needed": MIN_FINISHED_PROJECTS, "why": str(exc)},
                )
            ],
        )
    running = history[~history["finished"]]
    predictions = predictor.predict(running)
    version = f"dagster-run:{context.run.run_id}"
    written = write_predictions(library.engine, predictions, project_ids, version, datetime.now(UTC))
    advice = team_size_recommendation(history, predictor)
    report = predictor.report()
    names = dict(zip(projects["project_id"], projects["name"], strict=True))
    wide = predictions.pivot(index="project_id", columns="target", values=["value", "lower", "upper"])
    preview = pd.DataFrame({"project": [names[p] for p in wide.index]})
    for target in ("success_score", "duration_days", "cost"):
        preview[target] = [
            f"{v:.1f} [{lo:.1f}, {hi:.1f}]"
            for v, lo, hi in zip(wide["value"][target], wide["lower"][target], wide["upper"][target], strict=True)
        ]
    context.log.info(
        f"{written} prediction(s) of {len(running)} running project(s); coverage {report.to_dict('records')}"
    )
    coverage = {f"coverage_{row.target}": float(row.coverage) for row in report.itertuples()}
    return MaterializeResult(
        metadata={
            **metadata,
            "trained": True,
            "predictions_written": written,
            "model_version": version,
            "held_back_evaluation": _md(report.drop(columns="model").round(4)),
            "models": _md(report[["target", "model"]]),
            **coverage,
            "nominal_coverage": config.coverage,
            "held_back_intervals": MetadataValue.md(
                markdown_image(interval_coverage_plot(predictor.held_back_), "held-back projects and their intervals")
            ),
            "team_size_recommendation": _md(_advice_table(advice)),
            "predictions": _md(preview.head(PREVIEW)),
        },
        check_results=[
            AssetCheckResult(
                check_name=TRAINED_CHECK,
                passed=True,
                metadata={"finished_projects": finished, "test_projects": int(report["n_test"].iloc[0])},
            )
        ],
    )


SUCCESS_ASSETS = [project_success_predictions]
