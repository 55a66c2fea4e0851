"""Run tags Maestro sets, and the one place the private Dagster import they need lives.

Dagster 1.13 has no public API to launch one run over a partition range outside a backfill;
the UI and `dagster asset materialize --partition-range` set these two tags, and so do we.
"""

from dagster._core.storage.tags import ASSET_PARTITION_RANGE_END_TAG, ASSET_PARTITION_RANGE_START_TAG


def partition_range_tags(first: str, last: str) -> dict[str, str]:
    """Tags of one run over the partitions ``first..last`` (both included)."""
    return {ASSET_PARTITION_RANGE_START_TAG: first, ASSET_PARTITION_RANGE_END_TAG: last}
