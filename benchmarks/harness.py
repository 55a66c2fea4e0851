"""Shared pieces of the benchmarks: timing, peak memory and the JSON line each figure ends with."""

from __future__ import annotations

import json
import resource
import sys
import time
from collections.abc import Callable
from typing import Any


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
