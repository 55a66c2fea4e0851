"""ML readiness: the phase checklist of a model, each item judged from evidence the platform already
keeps, each naming the check, run or table that proves it; and the model card.

The evidence is gathered by the caller (the Dagster asset reads its instance, the registry and the
warehouse) into :class:`Evidence`; nothing here talks to a service.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pandas as pd

MIN_VALID_SHARE = 0.99


@dataclass
class CheckEvidence:
    """The latest evaluation of an asset check: passed or not, and where (asset:check, run)."""

    name: str
    passed: bool | None  # None: never evaluated
    run_id: str | None = None
    detail: str = ""


@dataclass
class Evidence:
    model: str
    silver_tables: dict[str, tuple[int, int]]  # table -> (rows in, rows quarantined) of its latest run
    feature_service: str
    features_registered: bool  # the service is in the Feast registry
    registry_run: str | None
    requirements_check: CheckEvidence
    champion_version: str | None
    champion_tags: dict[str, str]
    audit: pd.DataFrame  # model_alias_audit rows of the model
    serving_check: CheckEvidence
    drift_days: pd.DataFrame  # model_drift rows of the model
    holdout: dict[str, float] = field(default_factory=dict)
    training_set: str = ""
    snapshot: str = ""
    features: list[str] = field(default_factory=list)
    lineage: list[str] = field(default_factory=list)
    requirements_table: str = ""


@dataclass(frozen=True)
class ChecklistItem:
    item: str
    passed: bool
    proof: str


def checklist(e: Evidence) -> list[ChecklistItem]:
    items = []
    if e.silver_tables:
        shares = {t: (1 - q / n) if n else 1.0 for t, (n, q) in e.silver_tables.items()}
        worst = min(shares, key=shares.get)
        items.append(
            ChecklistItem(
                "data quality checks pass on ≥ 99% of rows",
                all(s >= MIN_VALID_SHARE for s in shares.values()),
                ", ".join(f"silver/{t}: {s:.2%} valid" for t, s in sorted(shares.items()))
                + f" (lowest: {worst}; rows_in and rows_quarantined of each table's latest materialization)",
            )
        )
    else:
        items.append(ChecklistItem("data quality checks pass on ≥ 99% of rows", False, "no silver input materialized"))
    items.append(
        ChecklistItem(
            "features registered",
            e.features_registered,
            f"feature service `{e.feature_service}` in the Feast registry "
            f"(feast_registry, run {e.registry_run or '—'})",
        )
    )
    r = e.requirements_check
    met = e.champion_tags.get("maestro.gate.requirements") == "pass"
    items.append(
        ChecklistItem(
            "model meets its baselines",
            met,
            f"champion version {e.champion_version or '—'} tagged maestro.gate.requirements="
            f"{e.champion_tags.get('maestro.gate.requirements', '—')} by check {r.name}"
            + (f"; its latest evaluation (run {r.run_id}) {'passed' if r.passed else 'failed'}" if r.run_id else ""),
        )
    )
    items.append(
        ChecklistItem(
            "registered in MLflow",
            e.champion_version is not None,
            f"models:/{e.model}@champion = version {e.champion_version}" if e.champion_version else "no champion",
        )
    )
    promotions = e.audit[(e.audit["alias"] == "champion")] if len(e.audit) else e.audit
    promoted = (
        e.champion_version is not None
        and len(promotions) > 0
        and str(promotions.iloc[-1]["version"]) == e.champion_version
    )
    last = promotions.iloc[-1] if len(promotions) else None
    items.append(
        ChecklistItem(
            "promotion audited",
            promoted,
            f"model_alias_audit: champion -> {last['version']} ({last['action']}, {last['changed_at']}, "
            f"Dagster run {last['dagster_run_id'] or '—'}): {last['reason']}"
            if last is not None
            else "model_alias_audit has no champion change",
        )
    )
    s = e.serving_check
    served = e.champion_tags.get("maestro.gate.serving") == "pass"
    items.append(
        ChecklistItem(
            "serving load-tested",
            served,
            f"champion version tags: p99 {e.champion_tags.get('maestro.serving.p99_ms', '—')} ms, "
            f"{e.champion_tags.get('maestro.serving.throughput_per_s', '—')} predictions/s (check {s.name}"
            + (f", run {s.run_id})" if s.run_id else ")"),
        )
    )
    rollbacks = e.audit[e.audit["action"] == "rollback"] if len(e.audit) else e.audit
    items.append(
        ChecklistItem(
            "rollback tested",
            len(rollbacks) > 0,
            f"{len(rollbacks)} rollback(s) in model_alias_audit, the last {rollbacks.iloc[-1]['changed_at']}"
            if len(rollbacks)
            else f"no rollback in model_alias_audit yet: `maestro models rollback {e.model}` exercises it",
        )
    )
    ours = (
        e.drift_days[e.drift_days["version"].astype(str) == str(e.champion_version)]
        if len(e.drift_days)
        else e.drift_days
    )
    items.append(
        ChecklistItem(
            "drift detection running",
            len(ours) > 0,
            f"model_drift: {len(ours)} day(s) checked for version {e.champion_version}, the last "
            f"{ours['partition_date'].max()}"
            if len(ours)
            else "no drift check recorded for the champion (batch_predictions not run since its promotion)",
        )
    )
    return items


def checklist_markdown(items: list[ChecklistItem]) -> str:
    lines = ["| item | status | proof |", "|---|---|---|"]
    for i in items:
        lines.append(f"| {i.item} | {'✅ ready' if i.passed else '❌ not yet'} | {i.proof.replace('|', '/')} |")
    return "\n".join(lines)


def model_card(e: Evidence, items: list[ChecklistItem]) -> str:
    ready = sum(i.passed for i in items)
    metrics = "\n".join(f"| {k} | {v:.4f} |" for k, v in sorted(e.holdout.items()))
    shown = ", ".join(f"`{f}`" for f in e.features[:40]) + (" …" if len(e.features) > 40 else "")
    return "\n".join(
        [
            f"# Model card: {e.model}",
            "",
            f"**Champion**: version {e.champion_version or '—'} · **readiness** {ready}/{len(items)}",
            "",
            "## Data",
            f"Training set `{e.training_set}`, snapshot `{e.snapshot or '—'}`; silver inputs: "
            + ", ".join(f"`{t}` ({n} rows)" for t, (n, _) in sorted(e.silver_tables.items())),
            "",
            "## Features",
            f"{len(e.features)} features of the Feast service `{e.feature_service}`: {shown}",
            "",
            "## Metrics (holdout)",
            "| metric | value |",
            "|---|---|",
            metrics or "| — | — |",
            "",
            "## Requirements",
            e.requirements_table or "_no evaluation yet_",
            "",
            "## Readiness",
            checklist_markdown(items),
            "",
            "## Lineage",
            " → ".join(f"`{k}`" for k in e.lineage),
        ]
    )
