"""Shared pieces of the benchmarks: timing, peak memory and the JSON line each figure ends with."""

from __future__ import annotations

import contextlib
import json
import resource
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]


def timed(func: Callable[[], Any]) -> tuple[float, Any]:
    started = time.perf_counter()
    value = func()
    return time.perf_counter() - started, value


def peak_rss_mb() -> float:
    """Peak resident memory of this process so far, in MiB (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def check_target(value: float, target: str) -> bool:
    """``target`` is ``"<= 1.7"`` or ``">= 5"``: is ``value`` within it?"""
    op, _, bound = target.partition(" ")
    limit = float(bound)
    return value <= limit if op == "<=" else value >= limit


def figure(
    name: str,
    value: float,
    unit: str,
    baseline: str,
    baseline_value: float,
    target: str,
    params: dict,
    ratio: float | None = None,
    target_of: str = "value",
) -> dict:
    """Print one figure as the JSON line of DESIGN.md and return it.

    ``target_of`` says what the target bounds: the ``value`` itself or the ``ratio`` to the baseline.
    """
    if ratio is None:
        ratio = value / baseline_value if baseline_value else float("inf")
    line = {
        "name": name,
        "value": round(value, 4),
        "unit": unit,
        "baseline": baseline,
        "baseline_value": round(baseline_value, 4),
        "ratio": round(ratio, 3),
        "target": target,
        "met": check_target(ratio if target_of == "ratio" else value, target),
        "params": params,
    }
    print(json.dumps(line), flush=True)
    return line


def note(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


def free_port() -> int:
    """A TCP port of 127.0.0.1 nobody listens on now."""
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def redis_server():
    """A ``redis-server`` of the benchmark's own on a free port (never the machine's on 6379):
    yields the port; raises SystemExit with the reason when Debian's ``redis-server`` is missing."""
    binary = shutil.which("redis-server")
    if binary is None:
        raise SystemExit("redis-server is not installed (Debian package redis-server)")
    port = free_port()
    server = subprocess.Popen(
        [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        for _ in range(100):  # until it accepts connections
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=0.1):
                break
            time.sleep(0.05)
        yield port
    finally:
        server.terminate()
        server.wait(timeout=10)


def feature_store(
    root: Path,
    project: str,
    online_store: str,
    view: str,
    entity: str,
    key: str,
    features: list[str],
    source_path: Path | None = None,
    service: str | None = None,
    ttl: timedelta = timedelta(days=2),
):
    """A throwaway Feast repository at ``root``: one entity, one view of float features over a file
    source (``source_path``; a placeholder when only the online store is used), optionally a
    feature service; applied. ``online_store`` is the YAML block of ``feature_store.yaml``."""
    import yaml
    from feast import Entity, FeatureService, FeatureStore, FeatureView, Field, FileSource
    from feast.data_format import ParquetFormat
    from feast.types import Float64
    from feast.value_type import ValueType

    from maestro_assets.lib.feature_store.repo import daily_files

    # the offline store of Maestro's own feature repo
    offline = yaml.safe_load((ROOT / "feature_repo" / "feature_store.yaml").read_text())["offline_store"]["type"]
    root.mkdir(parents=True)
    (root / "feature_store.yaml").write_text(
        f"project: {project}\nprovider: local\nregistry: {root}/registry.db\n{online_store}\n"
        f"offline_store:\n  type: {offline}\nentity_key_serialization_version: 3\n"
    )
    store = FeatureStore(repo_path=str(root))
    the_entity = Entity(name=entity, join_keys=[key], value_type=ValueType.INT64)
    source = FileSource(
        name=f"{view}_source",
        path=daily_files(str(source_path)) if source_path else str(root / "unused.parquet"),
        file_format=ParquetFormat(),
        timestamp_field="event_timestamp",
        created_timestamp_column="created_timestamp" if source_path else "",
    )
    the_view = FeatureView(
        name=view,
        entities=[the_entity],
        ttl=ttl,
        schema=[Field(name=f, dtype=Float64) for f in features],
        source=source,
        online=True,
    )
    objects = [the_entity, the_view]
    if service:
        objects.append(FeatureService(name=service, features=[the_view]))
    store.apply(objects)
    return store
