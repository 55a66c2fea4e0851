"""Maestro's demo source system: a seeded, deterministic engineering organisation's data.

* :func:`generate` — the operational tables (``TABLES``, in load order) as pandas frames;
* :func:`landing_files` — the CSV / JSON-lines / parquet drops an ingestion pipeline finds;
* :func:`write_git_repository` — a real git repository with several authors and branches;
* :func:`ci_runs_export` — CI runs in the GitHub Actions REST API's JSON shape.
"""

from .ci_export import ci_runs_export
from .generator import TABLES, DemoData, generate
from .git_repo import GitRepoSummary, write_git_repository
from .landing import landing_files

__all__ = [
    "TABLES",
    "DemoData",
    "GitRepoSummary",
    "ci_runs_export",
    "generate",
    "landing_files",
    "write_git_repository",
]
