"""``maestro`` — the platform from the command line.

maestro check                 check every setting and every declared source, print what is in use
maestro seed [--scale S]      (re)generate the demo source system (an asset group)
maestro demo [--scale S]      seed if absent, then materialize every asset and summarize
maestro materialize --select SELECTION [--partition D | --from D --to D]
                              materialize assets through the instance in DAGSTER_HOME (the UI shows the run)
maestro automl --data TRAIN.csv|parquet --target COL [--budget S | --trials N] [--test T --predictions OUT]
                              search models for a table (the AutoML engine, no Dagster), print the leaderboard
maestro models history NAME   a registered model's aliases now and every audited alias change, oldest first
maestro models rollback NAME [--reason TEXT]
                              move the model's champion back one step (audited), print what moved
maestro artifacts search [--tag T] [--kind K] [TEXT]
                              artifacts of the library whose name, description or owner holds TEXT
maestro artifacts register --kind K --name N --version V [--owner O] [--tag T ...]
                              register an artifact version by hand (code, a hand-made file)
maestro metrics-exporter [--port N] [--host H]
                              serve the platform's Prometheus metrics on http://H:N/metrics (read at each scrape)
maestro backup [--checksums]  pg_dump every platform database into backups/<id>/ of the lake, apply retention
maestro restore [--backup ID] --target URL
                              restore a backup (default: the newest) onto an empty PostgreSQL server, verified
"""

from __future__ import annotations

import argparse
import os
import sys
import time

from .lib import settings
from .lib.errors import ConfigurationError, MaestroError

DEMO_GROUP = "demo_source_system"
ANALYTICS_GROUP = "analytics"
UI_HINT = "Open the UI: `make ui`, then http://127.0.0.1:{port} (DAGSTER_HOME={home})"


def ui_port() -> str:
    """The port `make ui` serves on (PORT, as the Makefile reads it)."""
    return os.environ.get("PORT", "").strip() or "3000"


def _resources():
    from .definitions import defs

    return defs.resources


def cmd_check(_args) -> int:
    from .platform_runner import ensure_dagster_home, preflight

    ensure_dagster_home()
    for line in preflight(_resources()):
        print(line)
    print("all settings OK")
    return 0


def _seed(scale: float, seed: int) -> int:
    from .platform_runner import keys_in_groups, materialize

    started = time.monotonic()
    print(f"seeding the demo source system (scale {scale}, seed {seed}) …", flush=True)
    summary = materialize(
        keys_in_groups([DEMO_GROUP]),
        run_config={"ops": {"demo_source_system": {"config": {"scale": scale, "seed": seed}}}},
    )
    _report_failures(summary)
    if summary.success:
        print(f"seeded {len(summary.materialized)} demo assets in {time.monotonic() - started:.1f}s")
    return 0 if summary.success else 1


def _only_model_gates_failed(summary) -> bool:
    """A run that failed only because a model's gate held (a challenger not promoted): the platform
    worked and the champion stays, so the demo reports it and does not fail."""
    from .defs.models.assets import GATE_CHECKS

    return (
        not summary.success
        and bool(summary.checks_failed)
        and all(name.rsplit(":", 1)[-1] in GATE_CHECKS for name in summary.checks_failed)
        and all("DagsterAssetCheckFailedError" in error for error in summary.errors)
    )


def _without_predictions_of_models_without_champion(keys: list, held: list[str]) -> tuple[list, list[str]]:
    """``keys`` less the batch predictions of each model whose gate held (``held``: failed gate
    checks, ``asset:check``) and that has no champion at all — its first version was not promoted,
    so those runs could only fail; and the predictions assets left out."""
    from .defs.config import MODELS
    from .defs.models.assets import model_key, predictions_key, promotion_key, serving_key

    held_assets = {name.rsplit(":", 1)[0] for name in held}
    gated = [
        name
        for name in MODELS
        if held_assets & {k.to_user_string() for k in (model_key(name), serving_key(name), promotion_key(name))}
    ]
    wanted = {predictions_key(name): name for name in gated if predictions_key(name) in keys}
    if not wanted:
        return keys, []
    from .lib.models.registry import UnknownModel

    registry = _model_registry()

    def has_champion(name: str) -> bool:
        try:
            return registry.alias_version(name, "champion") is not None
        except UnknownModel:  # never registered: its first training held
            return False

    drop = {key for key, name in wanted.items() if not has_champion(name)}
    return [k for k in keys if k not in drop], sorted(k.to_user_string() for k in drop)


def _report_failures(summary) -> None:
    for line in summary.errors:
        print(f"  failed: {line}", file=sys.stderr)
    if summary.errors:
        print(f"  (run {summary.run_id}: full logs in the Dagster UI, or rerun with --debug)", file=sys.stderr)


def cmd_seed(args) -> int:
    from .platform_runner import ensure_dagster_home, preflight

    ensure_dagster_home()
    preflight(_resources(), sources=False)  # the demo's source tables are what seeding creates
    return _seed(args.scale, args.seed)


def _seeded(scale: float, seed: int) -> bool:
    """The demo group is materialized in this instance, at this scale and seed, and its tables exist."""
    from dagster import DagsterInstance

    from .defs.demo.assets import DEMO_TABLE_KEYS
    from .lib.demo import TABLES

    if not all(_resources()["demo_source_db"].client().has_table(t) for t in TABLES):
        return False
    with DagsterInstance.get() as instance:
        event = instance.get_latest_materialization_event(DEMO_TABLE_KEYS[TABLES[0]])
    if event is None or event.asset_materialization is None:
        return False
    meta = event.asset_materialization.metadata
    return getattr(meta.get("scale"), "value", None) == scale and getattr(meta.get("seed"), "value", None) == seed


def cmd_demo(args) -> int:
    from .platform_runner import (
        ensure_dagster_home,
        keys_in_groups,
        materialize,
        partition_range_for,
        preflight,
        run_stages,
    )

    home = ensure_dagster_home()
    for line in preflight(_resources(), sources=False):
        print(line)
    if _seeded(args.scale, args.seed):
        print("demo source system already seeded")
    elif (code := _seed(args.scale, args.seed)) != 0:
        return code
    for line in _source_lines():
        print(line)
    rest = keys_in_groups([DEMO_GROUP, ANALYTICS_GROUP], exclude=True)
    started = time.monotonic()
    window = demo_partition_range()
    # analytics last: the artifact library reads what every other asset made
    stages = run_stages(rest) + run_stages(keys_in_groups([ANALYTICS_GROUP]))
    materialized, passed, failed, warned, held, ok = 0, 0, [], [], [], True
    unscored: list[str] = []
    for keys, partitions_def in stages:
        keys, skipped = _without_predictions_of_models_without_champion(keys, held)
        unscored += skipped
        if not keys:
            continue
        span = None if partitions_def is None else partition_range_for(partitions_def, *window)
        if partitions_def is not None and span is None:
            print(f"skipping {len(keys)} assets: none of their partitions falls in {window[0]}..{window[1]}")
            continue
        what = f"{len(keys)} {'partitioned' if span else ''} assets".replace("  ", " ")
        print(f"materializing {what}" + (f" for {span[0]}..{span[1]} in one run" if span else "") + " …", flush=True)
        summary = materialize(keys, partition_range=span)
        gates = _only_model_gates_failed(summary)
        if not gates:
            _report_failures(summary)
        materialized += len(set(summary.materialized))
        passed += len(summary.checks_passed)
        (held if gates else failed).extend(summary.checks_failed)
        warned += summary.checks_warned
        ok = ok and (summary.success or gates)
    print()
    print("Maestro demo summary")
    print(f"  assets materialized : {materialized} (+ the demo source system), {time.monotonic() - started:.1f}s")
    print(f"  checks passed       : {passed}")
    print(f"  checks failed       : {len(failed)}" + (f" ({', '.join(failed)})" if failed else ""))
    print(f"  warnings            : {len(warned)}" + (f" ({', '.join(warned)})" if warned else ""))
    if held:
        print(f"  not promoted        : {', '.join(held)} (see the check in the UI)")
    if unscored:
        print(
            f"  not predicted       : {', '.join(unscored)} (no version passed the gates yet, so no champion "
            "to predict with; rerun the model's assets once the check passes)"
        )
    print("  " + UI_HINT.format(home=home, port=ui_port()))
    return 0 if ok else 1


def _source_lines() -> list[str]:
    from .defs.config import SOURCES
    from .lib.ingestion.check import check_sources

    return check_sources(SOURCES, _resources()["lake"].client())


def cmd_materialize(args) -> int:
    """Materialize a selection in one run per stage, through the instance the UI reads."""
    from dagster import AssetSelection

    from .definitions import defs
    from .platform_runner import ensure_dagster_home, materialize, partition_range_for, run_stages

    home = ensure_dagster_home()
    graph = defs.resolve_asset_graph()
    try:
        keys = AssetSelection.from_string(args.select).resolve(graph)
    except Exception as exc:  # Dagster's parser names what it could not read
        raise MaestroError(f"--select {args.select!r}: {exc}") from None
    if not keys:
        raise MaestroError(
            f"--select {args.select!r} selects no asset (see the asset keys in the UI or `dg list defs`)"
        )
    window = _partition_range(args)
    partitioned = [k for k in keys if graph.get(k).partitions_def is not None]
    if partitioned and window is None:
        raise MaestroError(f"{partitioned[0].to_user_string()} is partitioned: give --partition D or --from D --to D")
    if window is not None and not partitioned:
        raise MaestroError(f"--select {args.select!r} selects no partitioned asset: drop --partition/--from/--to")
    ok = True
    for stage, partitions_def in run_stages(sorted(keys, key=lambda k: k.to_user_string())):
        span = None if partitions_def is None else partition_range_for(partitions_def, *window)
        if partitions_def is not None and span is None:
            print(f"{len(stage)} asset(s) have no partition in {window[0]}..{window[1]}: not run")
            ok = False
            continue
        summary = materialize(stage, partition_range=span)
        _report_failures(summary)
        days = f" for {span[0]}..{span[1]}" if span else ""
        print(
            f"run {summary.run_id}: {'succeeded' if summary.success else 'FAILED'} — "
            f"{len(set(summary.materialized))} asset(s){days}, {len(summary.checks_passed)} checks passed, "
            f"{len(summary.checks_failed)} failed, {len(summary.checks_warned)} warned"
        )
        ok = ok and summary.success
    print(UI_HINT.format(home=home, port=ui_port()))
    return 0 if ok else 1


def _partition_range(args) -> tuple[str, str] | None:
    from datetime import date

    if args.partition and (args.start or args.end):
        raise MaestroError("give either --partition D or --from D --to D, not both")
    if bool(args.start) != bool(args.end):
        raise MaestroError("--from and --to go together")
    first, last = (args.partition, args.partition) if args.partition else (args.start, args.end)
    if not first:
        return None
    for option, value in (("--from/--partition", first), ("--to", last)):
        try:
            date.fromisoformat(value)
        except ValueError:
            raise MaestroError(f"{option} {value!r} is not a day (YYYY-MM-DD)") from None
    if last < first:
        raise MaestroError(f"--to {last} is before --from {first}")
    return first, last


def cmd_automl(args) -> int:
    """The AutoML engine on a file: progress while it searches, the leaderboard, then predictions
    and the saved model if asked. Nothing here that the engine does not do for a notebook too."""
    from .lib.automl import AutoML
    from .lib.automl.files import read_table, write_table

    if bool(args.test) != bool(args.predictions):
        raise MaestroError("--test and --predictions go together: the predictions of TEST are written to OUT")
    budget = args.budget if args.budget is not None else (None if args.trials else 60.0)
    data = read_table(args.data, "--data")
    test = read_table(args.test, "--test") if args.test else None
    model = AutoML(
        task=args.task,
        metric=args.metric,
        time_budget_s=budget,
        max_trials=args.trials,
        cv=_cv(args.cv),
        n_jobs=args.n_jobs,
        random_state=args.seed,
        callbacks=[_print_progress],
    )
    what = " and ".join(
        ([f"{budget:g}s"] if budget is not None else []) + ([f"{args.trials} trials"] if args.trials else [])
    )
    print(f"searching {len(data)} rows × {data.shape[1] - 1} features for {args.target!r} within {what} …", flush=True)
    model.fit(data, args.target)
    meta = model.metadata_
    print()
    print(
        f"{meta['task']} of {args.target!r}, {meta['metric']} ({'higher' if meta['greater_is_better'] else 'lower'}"
        f" is better), {meta['validation']}: {meta['trials']} trials in {meta['elapsed_s']:.1f}s"
    )
    print(_leaderboard_text(model.leaderboard()))
    print(f"final model: {meta['final_model']}")
    if test is not None:
        written = write_table(
            model.prediction_frame(test.drop(columns=[args.target], errors="ignore")), args.predictions
        )
        print(f"predictions for {len(test)} rows written to {written}")
    if args.model_out:
        print(f"model saved to {model.save(args.model_out)} (load with AutoML.load)")
    return 0


def _cv(value: str):
    return int(value) if value.isdigit() else value


def _print_progress(progress) -> None:
    metric = progress.metric
    trial = progress.trial
    score = f"{metric.natural(trial.score):.4f}" if trial.fold_scores else "-"
    best = f"{metric.natural(progress.best.score):.4f} ({progress.best.family})" if progress.best else "-"
    left = f", {max(0.0, progress.remaining_s):.0f}s left" if progress.remaining_s is not None else ""
    print(
        f"  trial {trial.number:>3} {trial.family:<22} {trial.state:<9} {metric.display_name} {score}"
        f" | best {best} | {progress.trials_done} done, {progress.elapsed_s:.0f}s{left}",
        flush=True,
    )


def _leaderboard_text(board) -> str:
    import json

    shown = board.copy()
    shown["params"] = [json.dumps(p, default=str)[:70] for p in shown["params"]]
    return shown.to_string(index=False, float_format=lambda v: f"{v:.4f}")


def _model_registry():
    """The registry over the same MLflow store and warehouse as the assets (MLFLOW_TRACKING_URI,
    MAESTRO_WAREHOUSE_URL, defaults under MAESTRO_HOME)."""
    from .lib.models.registry import ModelRegistry
    from .resources import build_resources

    resources = build_resources()
    return ModelRegistry(resources["mlflow"].client(), resources["warehouse"].client())


def cmd_backup(args) -> int:
    from .lib.platform.backup import backup_databases
    from .resources import LakeResource

    report = backup_databases(LakeResource().client(), with_checksums=args.checksums, log=print)
    print(f"backup {report.backup_id}: {len(report.dumps)} database(s) dumped, {len(report.skipped)} skipped")
    return 0


def cmd_restore(args) -> int:
    from .lib.platform.backup import restore
    from .resources import LakeResource

    report = restore(LakeResource().client(), args.target, args.backup, log=print)
    print(
        f"backup {report.backup_id} restored: {', '.join(report.databases.values())} (checksums and row counts match)"
    )
    return 0


def cmd_models_history(args) -> int:
    registry = _model_registry()
    history = registry.history(args.name)
    aliases = registry.aliases(args.name)
    print(f"model {args.name!r} in {registry.tracking.display_uri}")
    print("aliases now: " + (", ".join(f"{a} → version {v}" for a, v in sorted(aliases.items())) or "none"))
    if history.empty:
        print("no audited alias change yet")
        return 0
    shown = history.drop(columns=["model"]).assign(
        changed_at=history["changed_at"].dt.strftime("%Y-%m-%d %H:%M:%S UTC"),
    )
    shown = shown.fillna("-").rename(columns={"previous_version": "previous", "dagster_run_id": "dagster_run"})
    print(f"{len(shown)} alias change(s), oldest first:")
    print(shown.to_string(index=False))
    return 0


def cmd_models_rollback(args) -> int:
    registry = _model_registry()
    moved_from, moved_to = registry.rollback(args.name, args.reason)
    print(f"model {args.name!r}: champion moved back from version {moved_from} to version {moved_to} ({args.reason})")
    print(f"  (audited; `maestro models history {args.name}` shows it)")
    return 0


def _artifact_library():
    """The artifact library on the warehouse the assets write (MAESTRO_WAREHOUSE_URL, default under
    MAESTRO_HOME), its tables migrated first."""
    from .lib.analytics import store
    from .lib.analytics.artifacts import ArtifactLibrary
    from .resources import build_resources

    engine = build_resources()["warehouse"].client().engine
    store.upgrade(engine)
    return ArtifactLibrary(engine)


def _short(version: str | None) -> str:
    """A version for a table: a Dagster data version (64 hex digits) as its first 12."""
    if not version:
        return "-"
    return version if len(version) <= 16 else version[:12] + "…"


def cmd_artifacts_search(args) -> int:
    import pandas as pd

    found = _artifact_library().search(args.text, tag=args.tag, kind=args.kind)
    asked = ", ".join(f"{k} {v!r}" for k, v in (("text", args.text), ("tag", args.tag), ("kind", args.kind)) if v)
    if not found:
        print(f"no artifact matches {asked or 'anything (the library is empty)'}")
        return 0
    table = pd.DataFrame(
        [
            {
                "kind": a.kind,
                "name": a.name,
                "latest_version": _short(a.latest_version),
                "versions": a.versions,
                "owner": a.owner or "-",
                "tags": ", ".join(a.tags)[:60] or "-",
            }
            for a in found
        ]
    )
    print(f"{len(found)} artifact(s){' matching ' + asked if asked else ''}:")
    print(table.to_string(index=False))
    return 0


def cmd_artifacts_register(args) -> int:
    registered = _artifact_library().register_by_hand(
        args.kind, args.name, args.version, owner=args.owner, tags=args.tag or (), description=args.description
    )
    state = "registered" if registered.created else "already registered (tags merged)"
    print(f"artifact {registered.kind}:{registered.name} version {registered.version} {state}")
    return 0


def demo_partition_range() -> tuple[str, str]:
    """The daily partitions that hold the demo's data: its whole 90-day window."""
    from .lib.demo.generator import demo_days

    first, last = demo_days()
    return first.isoformat(), last.isoformat()


def cmd_metrics_exporter(args, stop=None) -> int:
    """Serve the metrics until interrupted (or until the ``threading.Event`` ``stop`` is set)."""
    import threading

    from dagster import DagsterInstance

    from .definitions import defs
    from .defs.alerts.platform_state import read_platform_snapshot
    from .lib.platform.metrics import serve_metrics
    from .platform_runner import ensure_dagster_home

    ensure_dagster_home()
    asset_graph = defs.resolve_asset_graph()
    lake = defs.resources["lake"].client()
    with DagsterInstance.get() as instance:
        server, _thread = serve_metrics(
            lambda: read_platform_snapshot(instance, asset_graph, lake), args.port, args.host
        )
        print(f"serving Maestro metrics on http://{args.host}:{args.port}/metrics", flush=True)
        try:
            (stop or threading.Event()).wait()
        finally:
            server.shutdown()
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="maestro", description="Maestro data and ML asset platform")
    parser.add_argument("--debug", action="store_true", help="show full tracebacks")
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("check", help="check every setting and every declared source").set_defaults(func=cmd_check)
    mat = sub.add_parser("materialize", help="materialize assets through the instance in DAGSTER_HOME")
    mat.add_argument(
        "--select",
        required=True,
        help="asset selection as in the UI: key:bronze/demo_db/task_events, group:quality, key:silver/*+",
    )
    mat.add_argument("--partition", help="one daily partition, YYYY-MM-DD")
    mat.add_argument("--from", dest="start", help="first day of a partition range (one run)")
    mat.add_argument("--to", dest="end", help="last day of the range")
    mat.set_defaults(func=cmd_materialize)
    automl = sub.add_parser("automl", help="search models for a CSV or Parquet table (the AutoML engine)")
    automl.add_argument("--data", required=True, help="training table, .csv or .parquet")
    automl.add_argument("--target", required=True, help="the column to predict")
    automl.add_argument("--task", choices=["auto", "classification", "regression"], default="auto")
    automl.add_argument("--metric", help="a scikit-learn scorer name (default: roc_auc, log_loss or rmse by task)")
    automl.add_argument("--budget", type=float, help="seconds for the whole search and refit (default 60)")
    automl.add_argument("--trials", type=int, help="at most this many trials; alone, a reproducible search")
    automl.add_argument("--cv", default="5", help="folds, or 'holdout' / 'timeseries' (default 5)")
    automl.add_argument("--seed", type=int, default=0)
    automl.add_argument("--n-jobs", type=int, default=-1, help="threads per fit (default: all cores)")
    automl.add_argument("--test", help="a table to predict, .csv or .parquet")
    automl.add_argument("--predictions", help="where to write the predictions of --test (.csv or .parquet)")
    automl.add_argument("--model-out", help="folder to save the fitted model in")
    automl.set_defaults(func=cmd_automl)
    models = sub.add_parser("models", help="registered models: alias history and rollback").add_subparsers(
        dest="models_command", required=True
    )
    history = models.add_parser("history", help="the model's aliases and every audited alias change")
    history.add_argument("name", help="the registered model's name, e.g. task_lateness")
    history.set_defaults(func=cmd_models_history)
    rollback = models.add_parser("rollback", help="move the model's champion back one step (audited)")
    rollback.add_argument("name", help="the registered model's name, e.g. task_lateness")
    rollback.add_argument("--reason", default="rollback from the command line", help="why (kept in the audit)")
    rollback.set_defaults(func=cmd_models_rollback)
    from .lib.analytics.store import ARTIFACT_KINDS

    artifacts = sub.add_parser("artifacts", help="the artifact library: search, register by hand").add_subparsers(
        dest="artifacts_command", required=True
    )
    search = artifacts.add_parser("search", help="artifacts whose name, description or owner holds TEXT")
    search.add_argument("text", nargs="?", help="text to look for (any case); none: every artifact")
    search.add_argument("--tag", help="only artifacts with this label, e.g. group=ingestion")
    search.add_argument("--kind", choices=ARTIFACT_KINDS, help="only artifacts of this kind")
    search.set_defaults(func=cmd_artifacts_search)
    register = artifacts.add_parser("register", help="register an artifact version by hand")
    register.add_argument("--kind", required=True, choices=ARTIFACT_KINDS)
    register.add_argument("--name", required=True, help="the artifact's name")
    register.add_argument("--version", required=True, help="the version's label, e.g. 1.4.0 or a git sha")
    register.add_argument(
        "--owner", default=os.environ.get("USER") or None, help="who owns it (default: $USER); required"
    )
    register.add_argument("--tag", action="append", help="a label (key=value or a word); repeat for more")
    register.add_argument("--description", help="what the artifact is")
    register.set_defaults(func=cmd_artifacts_register)
    exporter = sub.add_parser("metrics-exporter", help="serve the platform's Prometheus metrics")
    exporter.add_argument("--port", type=int, default=9108, help="port to listen on (default 9108)")
    exporter.add_argument("--host", default="0.0.0.0", help="address to listen on (default 0.0.0.0)")
    exporter.set_defaults(func=cmd_metrics_exporter)
    backup = sub.add_parser("backup", help="back up the platform databases into the lake (pg_dump)")
    backup.add_argument("--checksums", action="store_true", help="also keep an md5 of every table (reads every row)")
    backup.set_defaults(func=cmd_backup)
    restore = sub.add_parser("restore", help="restore a backup onto an empty PostgreSQL server")
    restore.add_argument(
        "--backup", default="latest", help="the backup id (backups/<id>/ in the lake); default: newest"
    )
    restore.add_argument(
        "--target", required=True, help="the target server's URL, e.g. postgresql://user@host/postgres"
    )
    restore.set_defaults(func=cmd_restore)
    for name, func, text in (
        ("seed", cmd_seed, "generate the demo source system"),
        ("demo", cmd_demo, "seed if absent, then materialize every asset"),
    ):
        p = sub.add_parser(name, help=text)
        p.add_argument(
            "--scale",
            type=float,
            default=settings.demo_scale(),
            help="demo size; 1.0 ≈ 2,000 users, 60,000 tasks, 1M events (env MAESTRO_DEMO_SCALE)",
        )
        p.add_argument("--seed", type=int, default=42)
        p.set_defaults(func=func)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.debug:
        os.environ["MAESTRO_DEBUG"] = "1"
    try:
        return args.func(args)
    except ConfigurationError as exc:
        print(f"maestro: configuration error: {exc}", file=sys.stderr)
        print("  (settings are environment variables; `maestro check` tests them all)", file=sys.stderr)
        return 2
    except MaestroError as exc:
        if args.debug:
            raise
        print(f"maestro: error: {exc}", file=sys.stderr)
        return 1
    except ConnectionError as exc:  # a server that does not answer (transient): say so, no traceback
        if args.debug:
            raise
        print(f"maestro: error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    except Exception as exc:  # an unexpected failure: one line, the traceback on request
        if args.debug or os.environ.get("MAESTRO_DEBUG"):
            raise
        print(
            f"maestro: unexpected {type(exc).__name__}: {exc} (rerun with --debug for the traceback)", file=sys.stderr
        )
        return 1


if __name__ == "__main__":
    sys.exit(main())
