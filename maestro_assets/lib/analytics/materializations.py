"""Asset materializations as artifact versions and usage: the mapping, without Dagster.

``defs/analytics`` reads the Dagster instance's materialization events and hands each one here as
a :class:`Materialization` (plain values); this module decides what the library records:

* the materialized asset becomes a version of the artifact named by its asset key, of the kind its
  group gives (:func:`~.artifacts.kind_for_group`; a group with no kind makes no artifact). The
  version is the event's data version (``dagster/data_version``), or ``<run id>:<partition>``
  when Dagster recorded none; reference the asset key; owner the asset's first owner;
* each upstream asset of an artifact kind was *used* by the materialized asset (``how="lineage"``,
  at the event's time): the exact version its input data version tag names when the library has
  it, else the upstream's latest version; an upstream never registered is left out;
* a batch-predictions materialization used its model (``how="predictions"``): the version its
  metadata names when the library has it, else the model's latest.

Usage is idempotent per (version, consumer, time), so reading an event twice records it once.

A version is what one data version names. Dagster derives an asset's data version from its code
version and its inputs' data versions; an asset without a code version gets the run's id as one, so
every partition a single run wrote (a range, a backfill) has the same data version and they are
ONE version of the artifact, the first partition read kept as its ``partition`` — a version is
"what this run made", and each later run of a day is a new version.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime

from .artifacts import ArtifactLibrary, UnknownArtifact, kind_for_group


@dataclass(frozen=True)
class Upstream:
    key: str  # the asset key as a user string, e.g. "bronze/demo_db/users"
    group: str | None
    version: str | None  # the input data version the materialization recorded for it


@dataclass(frozen=True)
class Materialization:
    storage_id: int
    asset_key: str
    group: str | None
    version: str | None
    run_id: str
    partition: str | None
    timestamp: datetime
    owners: tuple[str, ...] = ()
    description: str | None = None
    upstream: tuple[Upstream, ...] = ()
    model: tuple[str, str | None] | None = None  # (model name, version) that made these predictions


@dataclass
class MaterializationsRead:
    read: int = 0
    registered: list[str] = field(default_factory=list)  # "<asset key>@<version>" new to the library
    not_artifacts: int = 0  # materializations of a group that makes no artifact
    usage_recorded: int = 0
    last_storage_id: int | None = None


def version_of(event: Materialization) -> str:
    """The artifact version of a materialization: its data version, else run and partition."""
    if event.version:
        return event.version
    return f"{event.run_id}:{event.partition}" if event.partition else event.run_id


def register_materializations(library: ArtifactLibrary, events: Iterable[Materialization]) -> MaterializationsRead:
    """Register ``events`` (oldest first, so an upstream is registered before its consumers)."""
    result = MaterializationsRead()
    for event in events:
        result.read += 1
        result.last_storage_id = event.storage_id
        kind = kind_for_group(event.group)
        if kind is None:
            result.not_artifacts += 1
        else:
            registered = library.register(
                kind,
                event.asset_key,
                version_of(event),
                source="dagster",
                reference=event.asset_key,
                owner=event.owners[0] if event.owners else None,
                tags=[f"group={event.group}", *event.owners],
                metadata={"storage_id": event.storage_id},
                created_at=event.timestamp,
                description=event.description,
                run_id=event.run_id,
                partition=event.partition,
            )
            if registered.created:
                result.registered.append(f"{event.asset_key}@{registered.version}")
        for upstream in event.upstream:
            upstream_kind = kind_for_group(upstream.group)
            if upstream_kind is not None:
                result.usage_recorded += _use(library, upstream_kind, upstream.key, upstream.version, event, "lineage")
        if event.model is not None:
            name, version = event.model
            result.usage_recorded += _use(library, "model", name, version, event, "predictions")
    return result


def _use(library: ArtifactLibrary, kind: str, name: str, version: str | None, event: Materialization, how: str) -> bool:
    """Record the use of ``version`` (else the latest) of the artifact; False when it is not in the library."""
    for candidate in dict.fromkeys([version, None]):
        try:
            return library.record_usage(
                kind, name, "asset", event.asset_key, version=candidate, used_at=event.timestamp, how=how
            )
        except UnknownArtifact:
            continue
    return False
