"""``maestro`` — the platform from the command line.

maestro check                 check every setting and print what is in use
maestro seed [--scale S]      (re)generate the demo source system (an asset group)
maestro demo [--scale S]      seed if absent, then materialize every asset and summarize
"""

from __future__ import annotations

import argparse
import os
import sys
import time

from .lib import settings
from .lib.errors import ConfigurationError, MaestroError

DEMO_GROUP = "demo_source_system"
UI_HINT = "Open the UI: `make ui`, then http://127.0.0.1:3000 (DAGSTER_HOME={home})"


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


def _report_failures(summary) -> None:
    for line in summary.errors:
        print(f"  failed: {line}", file=sys.stderr)
    if summary.errors:
        print(f"  (run {summary.run_id}: full logs in the Dagster UI)", file=sys.stderr)


def cmd_seed(args) -> int:
    from .platform_runner import ensure_dagster_home, preflight

    ensure_dagster_home()
    preflight(_resources())
    return _seed(args.scale, args.seed)


def _seeded(scale: float, seed: int) -> bool:
    """The demo group is materialized in this instance, at this scale and seed, and its tables exist."""
    from dagster import DagsterInstance

    from .defs.demo.assets import TABLE_KEYS
    from .lib.demo import TABLES

    if not all(_resources()["demo_source_db"].get().has_table(t) for t in TABLES):
        return False
    with DagsterInstance.get() as instance:
        event = instance.get_latest_materialization_event(TABLE_KEYS[TABLES[0]])
    if event is None or event.asset_materialization is None:
        return False
    meta = event.asset_materialization.metadata
    return getattr(meta.get("scale"), "value", None) == scale and getattr(meta.get("seed"), "value", None) == seed


def cmd_demo(args) -> int:
    from .platform_runner import ensure_dagster_home, keys_in_groups, materialize, preflight, run_stages

    home = ensure_dagster_home()
    for line in preflight(_resources()):
        print(line)
    if _seeded(args.scale, args.seed):
        print("demo source system already seeded")
    elif (code := _seed(args.scale, args.seed)) != 0:
        return code
    rest = keys_in_groups([DEMO_GROUP], exclude=True)
    started = time.monotonic()
    window = demo_partition_range()
    materialized, passed, failed, warned, ok = 0, 0, [], [], True
    for keys, partitioned in run_stages(rest):
        what = f"{len(keys)} {'partitioned' if partitioned else ''} assets".replace("  ", " ")
        print(
            f"materializing {what}" + (f" for {window[0]}..{window[1]} in one run" if partitioned else "") + " …",
            flush=True,
        )
        summary = materialize(keys, partition_range=window if partitioned else None)
        _report_failures(summary)
        materialized += len(set(summary.materialized))
        passed += len(summary.checks_passed)
        failed += summary.checks_failed
        warned += summary.checks_warned
        ok = ok and summary.success
    print()
    print("Maestro demo summary")
    print(f"  assets materialized : {materialized} (+ the demo source system), {time.monotonic() - started:.1f}s")
    print(f"  checks passed       : {passed}")
    print(f"  checks failed       : {len(failed)}" + (f" ({', '.join(failed)})" if failed else ""))
    print(f"  warnings            : {len(warned)}" + (f" ({', '.join(warned)})" if warned else ""))
    print("  " + UI_HINT.format(home=home))
    return 0 if ok else 1


def demo_partition_range() -> tuple[str, str]:
    """The daily partitions that hold the demo's data: its whole 90-day window."""
    from datetime import timedelta

    from .lib.demo.generator import DEFAULT_END_DATE, WINDOW_DAYS

    first = DEFAULT_END_DATE - timedelta(days=WINDOW_DAYS)
    last = DEFAULT_END_DATE - timedelta(days=1)
    return first.isoformat(), last.isoformat()


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="maestro", description="Maestro data and ML asset platform")
    parser.add_argument("--debug", action="store_true", help="show full tracebacks")
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("check", help="check every setting and print what is in use").set_defaults(func=cmd_check)
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
