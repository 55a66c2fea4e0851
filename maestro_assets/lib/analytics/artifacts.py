"""The artifact library: every dataset, feature view, model and piece of code Maestro makes, its
versions, who consumed them, and how much each one matters.

Artifacts come in three ways, all through :meth:`ArtifactLibrary.register`:

* Dagster materializations (a reader in ``defs/`` maps an event onto ``register``): asset key →
  ``name`` and ``reference``, data version → ``version``, run id → ``run_id``, partition →
  ``partition``, the asset's group → ``kind`` (:func:`kind_for_group`), ``source="dagster"``;
* MLflow registered model versions, read incrementally by :func:`register_mlflow_models`;
* by hand (:meth:`ArtifactLibrary.register_by_hand`, ``source="manual"``).

Registering is idempotent: the same (kind, name, version) twice is one version row; the second
call merges its tags into the artifact's (tags are never removed) and its metadata into the
version's (later keys win), and fills a reference, run or partition that was missing. Usage is
idempotent per (version, consumer, used_at), so a reader that sees an event twice records it once.

Readers that run repeatedly keep a cursor in ``analytics_cursors`` (:meth:`ArtifactLibrary.cursor`,
:meth:`ArtifactLibrary.set_cursor`). Concurrent writers: a row inserted by another process between
our read and our insert surfaces as an IntegrityError; the whole call is then tried once more, and
finds the row.

The catalogue ranks artifacts by the impact score of :mod:`.impact` and shows its terms.
"""

from __future__ import annotations

import difflib
import json
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, TypeVar

import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from ..dates import as_utc
from ..errors import MaestroError
from .impact import Impact, impact_score
from .store import (
    ARTIFACT_KINDS,
    CONSUMER_KINDS,
    USAGE_HOW,
    VERSION_SOURCES,
    Artifact,
    ArtifactUsage,
    ArtifactVersion,
    Project,
    engine_of,
    get_cursor,
    set_cursor,
)

if TYPE_CHECKING:
    from mlflow.tracking import MlflowClient

T = TypeVar("T")

# The kind of artifact a Dagster asset is, from its group: the medallion layers' names and the
# groups this repository gives them (bronze: ingestion, silver: quality, gold: features).
ARTIFACT_KIND_BY_GROUP = {
    "bronze": "dataset",
    "silver": "dataset",
    "gold": "dataset",
    "ingestion": "dataset",
    "quality": "dataset",
    "features": "dataset",
    "feature_store": "feature_view",
    "models": "model",
}
MLFLOW_CURSOR = "mlflow_registry"  # the cursor name register_mlflow_models' callers save under
MAX_NAME = 255


class ArtifactLibraryError(MaestroError):
    """A call to the artifact library with something wrong in it: the message names what and where."""


class UnknownArtifact(ArtifactLibraryError):
    pass


class UnknownProject(ArtifactLibraryError):
    pass


def kind_for_group(group: str | None) -> str | None:
    """The artifact kind of a Dagster asset in ``group`` (None: the group makes no artifacts)."""
    return ARTIFACT_KIND_BY_GROUP.get(group or "")


@dataclass(frozen=True)
class RegisteredVersion:
    artifact_id: int
    version_id: int
    kind: str
    name: str
    version: str
    created: bool  # False: the version was there already (its tags and metadata were merged)


@dataclass(frozen=True)
class ArtifactRecord:
    id: int
    kind: str
    name: str
    description: str | None
    owner: str | None
    tags: list[str]
    created_at: datetime
    latest_version: str | None
    versions: int


class ArtifactLibrary:
    """The artifact tables of the warehouse at ``engine`` (an engine or a warehouse URL), migrated
    by ``store.upgrade`` first."""

    def __init__(self, engine: Engine | str):
        self.engine = engine_of(engine)

    # -- projects ---------------------------------------------------------------------------
    def register_project(
        self,
        name: str,
        *,
        team: str | None = None,
        description: str | None = None,
        status: str | None = None,
        started_at: datetime | None = None,
        finished_at: datetime | None = None,
        success_score: float | None = None,
        duration_days: float | None = None,
        cost: float | None = None,
        now: datetime | None = None,
    ) -> int:
        """Create the project ``name`` or update the fields given (None leaves a field as it is); its id."""
        _check_name(name, "project name")
        if success_score is not None and not 0 <= success_score <= 100:
            raise ArtifactLibraryError(f"project {name!r}: success_score must be within 0–100, not {success_score}")
        fields = {
            "team": team,
            "description": description,
            "status": status,
            "started_at": started_at,
            "finished_at": finished_at,
            "success_score": success_score,
            "duration_days": duration_days,
            "cost": cost,
        }
        given = {k: v for k, v in fields.items() if v is not None}

        def write(conn: Connection) -> int:
            found = conn.execute(sa.select(Project.id).where(Project.name == name)).scalar_one_or_none()
            if found is None:
                values = {"name": name, **given, "created_at": now or _now()}
                return _inserted_id(conn.execute(sa.insert(Project).values(**values)))
            if given:
                conn.execute(sa.update(Project).where(Project.id == found).values(**given))
            return found

        return self._write(write)

    # -- registering ------------------------------------------------------------------------
    def register(
        self,
        kind: str,
        name: str,
        version: str,
        source: str = "manual",
        reference: str | None = None,
        owner: str | None = None,
        tags: Iterable[str] | Mapping[str, Any] = (),
        metadata: Mapping[str, Any] | None = None,
        created_at: datetime | None = None,
        *,
        description: str | None = None,
        run_id: str | None = None,
        partition: str | None = None,
    ) -> RegisteredVersion:
        """Record ``version`` of the artifact (``kind``, ``name``), creating the artifact if new.

        ``reference`` says where the version is (an asset key, ``models:/<name>/<version>``),
        ``run_id`` and ``partition`` which run and partition made it; ``tags`` are labels (a
        mapping becomes ``key=value`` labels), ``metadata`` anything JSON can hold (other values
        are written as text). ``owner`` and ``description`` replace the artifact's when given.
        """
        where = f"artifact {kind}:{name!r}"
        _check_choice(kind, ARTIFACT_KINDS, f"{where}: kind")
        _check_choice(source, VERSION_SOURCES, f"{where}: source")
        _check_name(name, "artifact name")
        version = str(version).strip() if version is not None else ""
        if not version or len(version) > MAX_NAME:
            raise ArtifactLibraryError(f"{where}: version must be a non-empty text of at most {MAX_NAME} characters")
        labels = _labels(tags, where)
        details = _jsonable(metadata or {}, where)
        moment = created_at or _now()

        def write(conn: Connection) -> RegisteredVersion:
            artifact = conn.execute(
                sa.select(Artifact.id, Artifact.tags).where(Artifact.kind == kind, Artifact.name == name)
            ).one_or_none()
            changes: dict[str, Any] = {}
            if owner is not None:
                changes["owner"] = owner
            if description is not None:
                changes["description"] = description
            if artifact is None:
                values = {"kind": kind, "name": name, "tags": labels, "created_at": moment, **changes}
                artifact_id = _inserted_id(conn.execute(sa.insert(Artifact).values(**values)))
            else:
                artifact_id = artifact.id
                merged = sorted(set(artifact.tags or []) | set(labels))
                if merged != list(artifact.tags or []):
                    changes["tags"] = merged
                if changes:
                    conn.execute(sa.update(Artifact).where(Artifact.id == artifact_id).values(**changes))
            found = conn.execute(
                sa.select(
                    ArtifactVersion.id,
                    ArtifactVersion.details.label("details"),
                    ArtifactVersion.reference,
                    ArtifactVersion.run_id,
                    ArtifactVersion.partition_key,
                ).where(ArtifactVersion.artifact_id == artifact_id, ArtifactVersion.version == version)
            ).one_or_none()
            if found is None:
                version_id = _inserted_id(
                    conn.execute(
                        sa.insert(ArtifactVersion).values(
                            artifact_id=artifact_id,
                            version=version,
                            source=source,
                            reference=reference,
                            run_id=run_id,
                            partition_key=partition,
                            details=details,
                            created_at=moment,
                        )
                    )
                )
                return RegisteredVersion(artifact_id, version_id, kind, name, version, created=True)
            updates: dict[str, Any] = {}
            merged_details = {**(found.details or {}), **details}
            if merged_details != (found.details or {}):
                updates["details"] = merged_details
            for column, value in (("reference", reference), ("run_id", run_id), ("partition_key", partition)):
                if value is not None and getattr(found, column) is None:
                    updates[column] = value
            if updates:
                conn.execute(sa.update(ArtifactVersion).where(ArtifactVersion.id == found.id).values(**updates))
            return RegisteredVersion(artifact_id, found.id, kind, name, version, created=False)

        return self._write(write)

    def register_by_hand(
        self,
        kind: str,
        name: str,
        version: str,
        owner: str,
        description: str | None = None,
        tags: Iterable[str] | Mapping[str, Any] = (),
        metadata: Mapping[str, Any] | None = None,
        reference: str | None = None,
        created_at: datetime | None = None,
    ) -> RegisteredVersion:
        """An artifact nothing registers automatically (code, a hand-made file): an owner is required."""
        if not owner or not str(owner).strip():
            raise ArtifactLibraryError(f"artifact {kind}:{name!r} registered by hand needs an owner")
        return self.register(
            kind,
            name,
            version,
            source="manual",
            reference=reference,
            owner=owner,
            tags=tags,
            metadata=metadata,
            created_at=created_at,
            description=description,
        )

    # -- usage ------------------------------------------------------------------------------
    def record_usage(
        self,
        kind: str,
        name: str,
        consumer_kind: str,
        consumer_name: str,
        *,
        version: str | None = None,
        used_at: datetime | None = None,
        how: str = "lineage",
        project: str | None = None,
    ) -> bool:
        """Record that ``consumer_name`` (an asset key, a model, a project) used ``version`` (the
        latest when None) of the artifact; a project consumer counts for that project. True when the
        use is new, False when this (version, consumer, used_at) was recorded already — so a reader
        passes the event's own time as ``used_at`` (the default, now, makes every call a new use)."""
        where = f"usage of {kind}:{name!r} by {consumer_kind} {consumer_name!r}"
        _check_choice(consumer_kind, CONSUMER_KINDS, f"{where}: consumer_kind")
        _check_choice(how, USAGE_HOW, f"{where}: how")
        _check_name(consumer_name, "consumer name")
        if consumer_kind == "project":
            project = project or consumer_name
        moment = used_at or _now()

        def write(conn: Connection) -> bool:
            version_id = self._version_id(conn, kind, name, version)
            project_id = self._project_id(conn, project) if project else None
            exists = conn.execute(
                sa.select(ArtifactUsage.id).where(
                    ArtifactUsage.artifact_version_id == version_id,
                    ArtifactUsage.consumer_kind == consumer_kind,
                    ArtifactUsage.consumer_name == consumer_name,
                    ArtifactUsage.used_at == moment,
                )
            ).first()
            if exists is not None:
                return False
            conn.execute(
                sa.insert(ArtifactUsage).values(
                    artifact_version_id=version_id,
                    consumer_kind=consumer_kind,
                    consumer_name=consumer_name,
                    project_id=project_id,
                    used_at=moment,
                    how=how,
                )
            )
            return True

        return self._write(write)

    # -- reading ----------------------------------------------------------------------------
    def search(self, text: str | None = None, tag: str | None = None, kind: str | None = None) -> list[ArtifactRecord]:
        """Artifacts whose name, description or owner contains ``text`` (any case), that carry the
        label ``tag``, of ``kind``; every filter left None matches everything. Sorted by kind, name."""
        if kind is not None:
            _check_choice(kind, ARTIFACT_KINDS, "search: kind")
        stmt = sa.select(*Artifact.__table__.c).order_by(Artifact.kind, Artifact.name)
        if kind is not None:
            stmt = stmt.where(Artifact.kind == kind)
        if text:
            needle = text.lower()
            stmt = stmt.where(
                sa.or_(
                    *(
                        sa.func.lower(sa.func.coalesce(column, "")).contains(needle, autoescape=True)
                        for column in (Artifact.name, Artifact.description, Artifact.owner)
                    )
                )
            )
        with self.engine.connect() as conn:
            artifacts = conn.execute(stmt).all()
            counts = self._version_summary(conn)
        return [
            ArtifactRecord(
                id=a.id,
                kind=a.kind,
                name=a.name,
                description=a.description,
                owner=a.owner,
                tags=list(a.tags or []),
                created_at=a.created_at,
                latest_version=counts.get(a.id, (None, 0))[0],
                versions=counts.get(a.id, (None, 0))[1],
            )
            for a in artifacts
            if tag is None or tag in (a.tags or [])
        ]

    def catalogue(self, as_of: datetime | None = None) -> pd.DataFrame:
        """One row per artifact: latest version, versions, uses, distinct consumers, last use,
        owner, tags and the impact score (judged at ``as_of``, now by default) with its terms;
        highest impact first."""
        as_of = as_of or _now()
        artifacts = self.search()
        uses = self._uses()
        rows = []
        for artifact in artifacts:
            mine = uses.get(artifact.id, [])
            impact = _impact_of(mine, as_of)
            rows.append(
                {
                    "kind": artifact.kind,
                    "name": artifact.name,
                    "owner": artifact.owner,
                    "description": artifact.description,
                    "tags": artifact.tags,
                    "latest_version": artifact.latest_version,
                    "versions": artifact.versions,
                    "uses": impact.uses,
                    "consumers": impact.consumers,
                    "projects": len({use.project_id for use in mine if use.project_id is not None}),
                    "last_used": max((use.used_at for use in mine), default=None),
                    "impact_score": round(impact.score, 2),
                    "breadth": impact.breadth,
                    "volume": impact.volume,
                    "recency": impact.recency,
                    "success": impact.success,
                    "created_at": artifact.created_at,
                }
            )
        frame = pd.DataFrame(rows, columns=CATALOGUE_COLUMNS)
        frame["last_used"] = pd.to_datetime(frame["last_used"], utc=True)
        frame["created_at"] = pd.to_datetime(frame["created_at"], utc=True)
        return frame.sort_values(["impact_score", "kind", "name"], ascending=[False, True, True], ignore_index=True)

    def impact(self, name: str, kind: str | None = None, as_of: datetime | None = None) -> Impact:
        """The impact score of one artifact with its terms (what the catalogue row shows)."""
        with self.engine.connect() as conn:
            artifact_id = self._artifact_id(conn, name, kind)
        return _impact_of(self._uses(artifact_id).get(artifact_id, []), as_of or _now())

    def top_artifacts(self, n: int = 10, as_of: datetime | None = None) -> pd.DataFrame:
        """The ``n`` artifacts of highest impact (the catalogue's first rows)."""
        return self.catalogue(as_of).head(n).reset_index(drop=True)

    def usage_over_time(self, name: str, kind: str | None = None, freq: str = "W") -> pd.DataFrame:
        """Uses and distinct consumers of the artifact per period (pandas frequency ``freq``; ``W``:
        weeks from Monday), every period from the first use to the last, empty ones as 0."""
        with self.engine.connect() as conn:
            artifact_id = self._artifact_id(conn, name, kind)
            rows = conn.execute(
                sa.select(ArtifactUsage.used_at, ArtifactUsage.consumer_kind, ArtifactUsage.consumer_name)
                .join(ArtifactVersion, ArtifactVersion.id == ArtifactUsage.artifact_version_id)
                .where(ArtifactVersion.artifact_id == artifact_id)
            ).all()
        if not rows:
            return pd.DataFrame(
                {
                    "period_start": pd.Series(dtype="datetime64[ns, UTC]"),
                    "uses": pd.Series(dtype="int64"),
                    "consumers": pd.Series(dtype="int64"),
                }
            )
        frame = pd.DataFrame(
            {
                "used_at": pd.to_datetime([as_utc(r.used_at) for r in rows], utc=True).tz_convert(None),
                "consumer": [f"{r.consumer_kind}:{r.consumer_name}" for r in rows],
            }
        )
        try:
            frame["period"] = frame["used_at"].dt.to_period(freq)
        except ValueError as exc:
            raise ArtifactLibraryError(
                f"usage_over_time of {name!r}: {freq!r} is not a pandas frequency ({exc})"
            ) from None
        grouped = frame.groupby("period").agg(uses=("consumer", "size"), consumers=("consumer", "nunique"))
        periods = pd.period_range(grouped.index.min(), grouped.index.max(), freq=grouped.index.freq)
        grouped = grouped.reindex(periods, fill_value=0)
        return pd.DataFrame(
            {
                "period_start": grouped.index.start_time.tz_localize(UTC),
                "uses": grouped["uses"].astype("int64").to_numpy(),
                "consumers": grouped["consumers"].astype("int64").to_numpy(),
            }
        )

    # -- cursors ----------------------------------------------------------------------------
    def cursor(self, name: str) -> str | None:
        return get_cursor(self.engine, name)

    def set_cursor(self, name: str, value: str) -> None:
        set_cursor(self.engine, name, value)

    # -- internals --------------------------------------------------------------------------
    def _write(self, work: Callable[[Connection], T]) -> T:
        """Run ``work`` in a transaction; once more if a concurrent writer inserted the same row first."""
        try:
            with self.engine.begin() as conn:
                return work(conn)
        except sa.exc.IntegrityError:
            with self.engine.begin() as conn:
                return work(conn)

    def _artifact_id(self, conn: Connection, name: str, kind: str | None) -> int:
        stmt = sa.select(Artifact.id, Artifact.kind).where(Artifact.name == name)
        if kind is not None:
            _check_choice(kind, ARTIFACT_KINDS, f"artifact {name!r}: kind")
            stmt = stmt.where(Artifact.kind == kind)
        found = conn.execute(stmt).all()
        if not found:
            names = conn.execute(sa.select(Artifact.name)).scalars().all()
            close = difflib.get_close_matches(name, names, n=3)
            hint = f"; close names: {', '.join(close)}" if close else ""
            what = f"{kind}:{name!r}" if kind else repr(name)
            raise UnknownArtifact(f"no artifact {what} in the library (register it first){hint}")
        if len(found) > 1:
            kinds = ", ".join(sorted(row.kind for row in found))
            raise ArtifactLibraryError(f"artifact name {name!r} is used by several kinds ({kinds}): pass kind=")
        return found[0].id

    def _version_id(self, conn: Connection, kind: str, name: str, version: str | None) -> int:
        artifact_id = self._artifact_id(conn, name, kind)
        stmt = sa.select(ArtifactVersion.id).where(ArtifactVersion.artifact_id == artifact_id)
        if version is not None:
            found = conn.execute(stmt.where(ArtifactVersion.version == str(version))).scalar_one_or_none()
            if found is None:
                raise UnknownArtifact(f"artifact {kind}:{name!r} has no version {version!r}")
            return found
        latest = conn.execute(
            stmt.order_by(ArtifactVersion.created_at.desc(), ArtifactVersion.id.desc()).limit(1)
        ).scalar_one_or_none()
        if latest is None:
            raise UnknownArtifact(f"artifact {kind}:{name!r} has no version yet")
        return latest

    def _project_id(self, conn: Connection, name: str) -> int:
        found = conn.execute(sa.select(Project.id).where(Project.name == name)).scalar_one_or_none()
        if found is None:
            raise UnknownProject(f"no project {name!r} in the analytics tables (register_project it first)")
        return found

    def _version_summary(self, conn: Connection) -> dict[int, tuple[str, int]]:
        """artifact id → (latest version by creation time, number of versions)."""
        rows = conn.execute(
            sa.select(ArtifactVersion.artifact_id, ArtifactVersion.version).order_by(
                ArtifactVersion.artifact_id, ArtifactVersion.created_at, ArtifactVersion.id
            )
        ).all()
        summary: dict[int, tuple[str, int]] = {}
        for row in rows:
            summary[row.artifact_id] = (row.version, summary.get(row.artifact_id, ("", 0))[1] + 1)
        return summary

    def _uses(self, artifact_id: int | None = None) -> dict[int, list[Any]]:
        """artifact id → its uses (of every artifact, or of ``artifact_id``), each with the consumer,
        the time, the project and the project's success score."""
        stmt = (
            sa.select(
                ArtifactVersion.artifact_id,
                ArtifactUsage.consumer_kind,
                ArtifactUsage.consumer_name,
                ArtifactUsage.used_at,
                ArtifactUsage.project_id,
                Project.success_score,
            )
            .join(ArtifactVersion, ArtifactVersion.id == ArtifactUsage.artifact_version_id)
            .outerjoin(Project, Project.id == ArtifactUsage.project_id)
        )
        if artifact_id is not None:
            stmt = stmt.where(ArtifactVersion.artifact_id == artifact_id)
        uses: dict[int, list[Any]] = defaultdict(list)
        with self.engine.connect() as conn:
            for row in conn.execute(stmt):
                uses[row.artifact_id].append(row)
        return uses


def _impact_of(uses: list[Any], as_of: datetime) -> Impact:
    """The impact score of an artifact from its uses (rows of ``ArtifactLibrary._uses``)."""
    projects = {use.project_id: use.success_score for use in uses if use.project_id is not None}
    return impact_score(
        consumers=len({(use.consumer_kind, use.consumer_name) for use in uses}),
        used_at=[use.used_at for use in uses],
        project_success_scores=projects.values(),
        as_of=as_of,
    )


CATALOGUE_COLUMNS = [
    "kind",
    "name",
    "owner",
    "description",
    "tags",
    "latest_version",
    "versions",
    "uses",
    "consumers",
    "projects",
    "last_used",
    "impact_score",
    "breadth",
    "volume",
    "recency",
    "success",
    "created_at",
]


# -- the MLflow registry reader ---------------------------------------------------------------------
@dataclass(frozen=True)
class RegistryRead:
    """What one read of the MLflow registry did: the cursor to save, the versions it read (changed
    since the cursor, as ``name/version``) and those of them that were new to the library."""

    cursor: str
    read: list[str] = field(default_factory=list)
    registered: list[RegisteredVersion] = field(default_factory=list)


def register_mlflow_models(
    library: ArtifactLibrary, client: MlflowClient, cursor: str | None, page_size: int = 1000
) -> RegistryRead:
    """Register every MLflow model version changed since ``cursor`` as an artifact of kind model.

    The registry is searched newest change first (``last_updated_timestamp`` descending) and the
    search stops at the cursor, so a read costs what is new, not the registry's size. The cursor is
    the latest ``last_updated_timestamp`` seen and the versions seen at that very millisecond: a
    version changed in the same millisecond but after the read is still new next time, and one
    already read is not read again. A version MLflow marks as changed since (its description, its
    stage) is read again and its tags and metadata merged; MLflow does not move the timestamp when a
    tag is set or an alias moves, so those are what the version had when first read (the champion's
    moves are in the model registry's own audit table).

    Each version becomes version ``<n>`` of artifact ``<model name>``, reference
    ``models:/<name>/<n>``, run id the version's run; owner from the tag ``owner`` (version, then
    model, then run), else the run's ``mlflow.user``, else the version's user; labels from the
    model's and the version's tags (``key=value``, MLflow's own ``mlflow.*`` left out); metadata: the
    run's tags, aliases, status, source and description.
    """
    since, seen_at_since = _parse_mlflow_cursor(cursor)
    changed = []
    token = None
    while True:
        page = client.search_model_versions(
            max_results=page_size,
            order_by=["last_updated_timestamp DESC", "name ASC", "version_number DESC"],
            page_token=token,
        )
        reached_cursor = False
        for model_version in page:
            stamp = _updated(model_version)
            if stamp < since:
                reached_cursor = True
                break
            if stamp == since and _key(model_version) in seen_at_since:
                continue
            changed.append(model_version)
        token = page.token
        if reached_cursor or not token:
            break
    changed.sort(key=lambda mv: (_updated(mv), mv.name, int(mv.version)))
    models: dict[str, Any] = {}
    registered = []
    for model_version in changed:
        if model_version.name not in models:
            models[model_version.name] = client.get_registered_model(model_version.name)
        result = library.register(**_mlflow_registration(client, models[model_version.name], model_version))
        if result.created:
            registered.append(result)
    if not changed:
        return RegistryRead(cursor=cursor or _mlflow_cursor(since, set()))
    latest = _updated(changed[-1])
    keys = {_key(mv) for mv in changed if _updated(mv) == latest}
    if latest == since:
        keys |= seen_at_since
    return RegistryRead(cursor=_mlflow_cursor(latest, keys), read=[_key(mv) for mv in changed], registered=registered)


def _mlflow_registration(client: MlflowClient, model: Any, model_version: Any) -> dict[str, Any]:
    run_tags = _run_tags(client, model_version.run_id)
    version_tags = dict(model_version.tags or {})
    model_tags = dict(model.tags or {})
    owner = (
        version_tags.get("owner")
        or model_tags.get("owner")
        or run_tags.get("owner")
        or run_tags.get("mlflow.user")
        or (model_version.user_id or None)
    )
    labels = {k: v for k, v in {**model_tags, **version_tags}.items() if not k.startswith("mlflow.")}
    return {
        "kind": "model",
        "name": model_version.name,
        "version": str(model_version.version),
        "source": "mlflow",
        "reference": f"models:/{model_version.name}/{model_version.version}",
        "owner": owner,
        "tags": labels,
        "metadata": {
            "run_tags": {k: v for k, v in run_tags.items() if not k.startswith("mlflow.") or k == "mlflow.runName"},
            "aliases": sorted(getattr(model_version, "aliases", None) or []),
            "status": model_version.status,
            "source": model_version.source,
            "version_description": model_version.description or None,
            "last_updated_timestamp": _updated(model_version),
        },
        "created_at": datetime.fromtimestamp((model_version.creation_timestamp or 0) / 1000, UTC),
        "description": model.description or None,
        "run_id": model_version.run_id or None,
    }


def _run_tags(client: MlflowClient, run_id: str | None) -> dict[str, str]:
    if not run_id:
        return {}
    from mlflow.exceptions import MlflowException

    try:
        return dict(client.get_run(run_id).data.tags)
    except MlflowException:  # the run was deleted: the version stays, without its run's tags
        return {}


def _updated(model_version: Any) -> int:
    return int(model_version.last_updated_timestamp or model_version.creation_timestamp or 0)


def _key(model_version: Any) -> str:
    return f"{model_version.name}/{model_version.version}"


def _mlflow_cursor(stamp: int, keys: set[str]) -> str:
    return json.dumps({"last_updated_timestamp": stamp, "versions_at_timestamp": sorted(keys)})


def _parse_mlflow_cursor(cursor: str | None) -> tuple[int, set[str]]:
    if not cursor:
        return 0, set()
    try:
        parsed = json.loads(cursor)
        return int(parsed["last_updated_timestamp"]), set(parsed["versions_at_timestamp"])
    except (ValueError, TypeError, KeyError):
        raise ArtifactLibraryError(
            f"MLflow registry cursor {cursor[:80]!r} is not one register_mlflow_models wrote "
            f"(delete the cursor {MLFLOW_CURSOR!r} to read the registry from the start)"
        ) from None


# -- checks -----------------------------------------------------------------------------------------
def _inserted_id(result: sa.CursorResult) -> int:
    return int(result.inserted_primary_key[0])


def _now() -> datetime:
    return datetime.now(UTC)


def _check_choice(value: str, allowed: tuple[str, ...], what: str) -> None:
    if value not in allowed:
        raise ArtifactLibraryError(f"{what} must be one of {', '.join(allowed)}, not {value!r}")


def _check_name(name: str, what: str) -> None:
    if not isinstance(name, str) or not name.strip() or len(name) > MAX_NAME:
        raise ArtifactLibraryError(f"{what} must be a non-empty text of at most {MAX_NAME} characters, not {name!r}")


def _labels(tags: Iterable[str] | Mapping[str, Any], where: str) -> list[str]:
    if isinstance(tags, Mapping):
        tags = [f"{k}={v}" for k, v in tags.items()]
    elif isinstance(tags, str):
        tags = [tags]
    labels = set()
    for tag in tags:
        if not isinstance(tag, str) or not tag.strip():
            raise ArtifactLibraryError(f"{where}: tags must be non-empty texts, not {tag!r}")
        labels.add(tag.strip())
    return sorted(labels)


def _jsonable(metadata: Mapping[str, Any], where: str) -> dict[str, Any]:
    if not isinstance(metadata, Mapping):
        raise ArtifactLibraryError(f"{where}: metadata must be a mapping, not {type(metadata).__name__}")
    return json.loads(json.dumps(dict(metadata), default=str))
