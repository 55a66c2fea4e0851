"""``python -m benchmarks [NAME] [args…]`` — run every benchmark, or one by name."""

from __future__ import annotations

import importlib
import pkgutil
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).parent
NOT_BENCHMARKS = {"harness", "__main__"}


def names() -> list[str]:
    return sorted(m.name for m in pkgutil.iter_modules([str(HERE)]) if m.name not in NOT_BENCHMARKS)


def main(argv: list[str]) -> int:
    if argv and not argv[0].startswith("-"):
        name, rest = argv[0], argv[1:]
        if name not in names():
            print(f"unknown benchmark {name!r}; there are: {', '.join(names())}", file=sys.stderr)
            return 2
        return importlib.import_module(f"benchmarks.{name}").main(rest)
    status = 0
    for name in names():  # each in its own process, so peak memory is its own
        status |= subprocess.call([sys.executable, "-m", "benchmarks", name, *argv])
    return status


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
