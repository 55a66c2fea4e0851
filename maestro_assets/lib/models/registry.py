"""The MLflow model registry with audited aliases: ``challenger`` for a new version, ``champion`` for
the one that serves, and a rollback of ``champion`` one step at a time.

MLflow keeps no history of aliases, so every change Maestro makes is also written to the warehouse
table ``model_alias_audit`` (model, alias, new and previous version, when, why, which Dagster run,
what action). The rollback reads that history: the champions of a model form a stack — a promotion
pushes a version, a rollback pops the current one — so a second rollback goes one step further back
instead of returning to the version the first one left.

An MLflow tracking server that does not answer is :class:`TrackingServerUnreachable`, a
``ConnectionError`` (transient: worth retrying); everything else wrong is a
:class:`ModelRegistryError` naming the model, the version and the fix.
"""

from __future__ import annotations

import re
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any, TypeVar

import pandas as pd
import sqlalchemy as sa

from ..errors import MaestroError, is_transient
from ..redact import scrub, url_password
from ..settings import ENV_MLFLOW_URI
from ..tracking import Tracking
from ..warehouse import Warehouse

CHALLENGER = "challenger"
CHAMPION = "champion"
AUDIT_TABLE = "model_alias_audit"

# what a row of the audit table did
ACTION_REGISTER = "register"  # a new version became challenger
ACTION_SET = "set"  # an alias was moved by hand (set_alias)
ACTION_PROMOTE = "promote"  # champion moved to a version
ACTION_ROLLBACK = "rollback"  # champion moved back one step
ACTION_REMOVE = "remove"  # an alias was deleted

_metadata = sa.MetaData()
AUDIT = sa.Table(
    AUDIT_TABLE,
    _metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("model", sa.String(255), nullable=False),
    sa.Column("alias", sa.String(255), nullable=False),
    sa.Column("version", sa.String(32), nullable=True),  # the new holder (none after a removal)
    sa.Column("previous_version", sa.String(32), nullable=True),  # who held the alias before
    sa.Column("changed_at", sa.DateTime(timezone=True), nullable=False),  # UTC
    sa.Column("reason", sa.Text, nullable=False),
    sa.Column("dagster_run_id", sa.String(64), nullable=True),
    sa.Column("action", sa.String(16), nullable=False),
    sa.Index("ix_model_alias_audit_model_alias", "model", "alias"),
)
AUDIT_COLUMNS = [c.name for c in AUDIT.columns]
_MODEL_ID_URI = re.compile(r"^models:/(m-[0-9a-f]+)$")
T = TypeVar("T")


class ModelRegistryError(MaestroError):
    """A registry operation that cannot be done as asked: the message names the model, the version
    and what to do."""


class UnknownModel(ModelRegistryError):
    """No registered model of that name."""


class UnknownModelVersion(ModelRegistryError):
    """The registered model has no such version."""


class MissingChampion(ModelRegistryError):
    """The model has no ``champion``: nothing serves it yet."""


class NoEarlierChampion(ModelRegistryError):
    """A rollback with no earlier champion to go back to."""


class TrackingServerUnreachable(ConnectionError):
    """The MLflow tracking server does not answer: transient (``is_transient`` is true), retry later."""


class ModelRegistry:
    """Registered models and their aliases in MLflow, every alias change audited in the warehouse."""

    def __init__(self, tracking: Tracking, warehouse: Warehouse):
        self.tracking = tracking
        self.warehouse = warehouse
        self._reached = False
        self._table_ready = False

    # -- MLflow ----------------------------------------------------------------------------------
    @property
    def client(self):
        if not self._reached and self.tracking.scheme in ("http", "https"):
            self._probe()
        self._reached = True
        return self.tracking.client

    def _probe(self) -> None:
        """A server that is down fails in seconds here, not after MLflow's minutes of retries."""
        parts = urllib.parse.urlsplit(self.tracking.tracking_uri)
        netloc = parts.netloc.rsplit("@", 1)[-1]  # the health check needs no credentials: never send them
        url = urllib.parse.urlunsplit((parts.scheme, netloc, parts.path.rstrip("/") + "/health", "", ""))
        try:
            with urllib.request.urlopen(url, timeout=5) as response:
                response.read()
        except (urllib.error.URLError, OSError, ValueError) as exc:
            raise self._unreachable(getattr(exc, "reason", exc)) from None

    def _unreachable(self, reason: Any) -> TrackingServerUnreachable:
        text = scrub(
            str(reason).strip().splitlines()[0] if str(reason).strip() else type(reason).__name__,
            url_password(self.tracking.tracking_uri),
        )
        return TrackingServerUnreachable(
            f"the MLflow tracking server at {self.tracking.display_uri} does not answer ({text}): start "
            f"`mlflow server` or fix {ENV_MLFLOW_URI}; the registry is unchanged, try again when it is up"
        )

    def _call(self, operation: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        try:
            return operation(*args, **kwargs)
        except Exception as exc:
            if is_transient(exc):
                raise self._unreachable(exc) from None
            raise

    @staticmethod
    def _error_code(exc: BaseException) -> str:
        return str(getattr(exc, "error_code", ""))

    def _registered_model(self, name: str):
        from mlflow.exceptions import MlflowException

        _check_name(name)
        try:
            return self._call(self.client.get_registered_model, name)
        except MlflowException as exc:
            if self._error_code(exc) == "RESOURCE_DOES_NOT_EXIST":
                raise UnknownModel(self._unknown_model_text(name)) from None
            raise

    def _unknown_model_text(self, name: str) -> str:
        known = [m.name for m in self._call(self.client.search_registered_models, max_results=50)]
        listed = ", ".join(sorted(known)) if known else "none yet"
        return (
            f"no registered model {name!r} in the MLflow registry at {self.tracking.display_uri} "
            f"(registered models: {listed}); check the name, or train and register the model first"
        )

    def _model_version(self, name: str, version: str):
        from mlflow.exceptions import MlflowException

        try:
            return self._call(self.client.get_model_version, name, str(version))
        except MlflowException as exc:
            if self._error_code(exc) not in ("RESOURCE_DOES_NOT_EXIST", "INVALID_PARAMETER_VALUE"):
                raise
        self._registered_model(name)  # an unknown model is named as such
        versions = sorted(
            (str(v.version) for v in self._call(self.client.search_model_versions, f"name = '{name}'")), key=int
        )
        raise UnknownModelVersion(
            f"model {name!r} has no version {version!r} (its versions: {', '.join(versions) or 'none'}); "
            "use one of those, or register a new version"
        )

    def aliases(self, name: str) -> dict[str, str]:
        """The model's aliases now, alias → version (from MLflow)."""
        return {alias: str(version) for alias, version in self._registered_model(name).aliases.items()}

    def alias_version(self, name: str, alias: str) -> str | None:
        """The version holding ``alias`` now, or None."""
        return self.aliases(name).get(alias)

    def champion(self, name: str) -> str:
        """The champion's version; :class:`MissingChampion` when the model has none."""
        version = self.alias_version(name, CHAMPION)
        if version is None:
            raise MissingChampion(
                f"model {name!r} has no {CHAMPION} (aliases: {_aliases_text(self.aliases(name))}): nothing serves "
                "it yet; promote a version first (its training asset's promotion, or ModelRegistry.promote)"
            )
        return version

    # -- changes ---------------------------------------------------------------------------------
    def register(
        self,
        name: str,
        model_uri: str,
        run_id: str,
        tags: Mapping[str, str] | None = None,
        description: str | None = None,
        reason: str | None = None,
        dagster_run_id: str | None = None,
    ) -> str:
        """Register ``model_uri`` as a new version of ``name`` (creating the registered model if
        needed) and make it the ``challenger``; returns the version."""
        from mlflow.exceptions import MlflowException

        _check_name(name)
        if not model_uri or not isinstance(model_uri, str):
            raise ModelRegistryError(f"model {name!r}: model_uri is empty; pass the logged model's URI (models:/m-…)")
        try:
            self._call(self.client.create_registered_model, name, tags=dict(tags or {}), description=description)
        except MlflowException as exc:
            if self._error_code(exc) not in ("RESOURCE_ALREADY_EXISTS", "ALREADY_EXISTS"):
                raise
        found = _MODEL_ID_URI.match(model_uri)
        model_id, source = (found.group(1) if found else None), model_uri
        try:
            if model_id is not None:
                # MLflow's SQL registry resolves a models:/m-… source through the *global* tracking URI,
                # not this client's: resolve it here, through this client, to the artifact location
                source = self._call(self.client.get_logged_model, model_id).artifact_location
            created = self._call(
                self.client.create_model_version,
                name,
                source=source,
                run_id=run_id,
                tags={k: str(v) for k, v in (tags or {}).items()},
                description=description,
                model_id=model_id,
            )
        except MlflowException as exc:
            raise ModelRegistryError(
                f"model {name!r}: MLflow refused a new version from {model_uri!r} (run {run_id}): {exc.message}"
            ) from None
        version = str(created.version)
        self._move(
            name, CHALLENGER, version, reason or f"new version from run {run_id}", dagster_run_id, ACTION_REGISTER
        )
        return version

    def set_alias(
        self, name: str, alias: str, version: str, reason: str, dagster_run_id: str | None = None
    ) -> str | None:
        """Point ``alias`` at ``version`` (audited); returns the version that held it before."""
        return self._move(name, alias, str(version), reason, dagster_run_id, ACTION_SET)

    def promote(self, name: str, version: str, reason: str, dagster_run_id: str | None = None) -> str | None:
        """Move ``champion`` to ``version`` (audited); returns the previous champion."""
        return self._move(name, CHAMPION, str(version), reason, dagster_run_id, ACTION_PROMOTE)

    def remove_alias(self, name: str, alias: str, reason: str, dagster_run_id: str | None = None) -> str | None:
        """Delete ``alias`` (audited); returns the version that held it."""
        _check_reason(name, reason)
        previous = self.alias_version(name, alias)
        if previous is None:
            raise ModelRegistryError(
                f"model {name!r} has no alias {alias!r} to remove (aliases: {_aliases_text(self.aliases(name))})"
            )
        self._audit(
            name,
            alias,
            None,
            previous,
            reason,
            dagster_run_id,
            ACTION_REMOVE,
            lambda: self._call(self.client.delete_registered_model_alias, name, alias),
        )
        return previous

    def _move(
        self, name: str, alias: str, version: str, reason: str, dagster_run_id: str | None, action: str
    ) -> str | None:
        from mlflow.exceptions import MlflowException

        _check_reason(name, reason)
        self._model_version(name, version)
        previous = self.alias_version(name, alias)

        def change() -> None:
            try:
                self._call(self.client.set_registered_model_alias, name, alias, version)
            except MlflowException as exc:
                raise ModelRegistryError(f"model {name!r}: cannot set alias {alias!r}: {exc.message}") from None

        self._audit(name, alias, version, previous, reason, dagster_run_id, action, change)
        return previous

    def rollback(self, name: str, reason: str, dagster_run_id: str | None = None) -> tuple[str, str]:
        """Move ``champion`` back one step, to the version that was champion before the current one
        (read from the audit table); returns ``(from_version, to_version)``. Audited, so a second
        rollback goes one step further back."""
        _check_reason(name, reason)
        current = self.champion(name)
        rows = self._rows(name, CHAMPION)
        lineage = champion_lineage(rows)
        if not lineage or lineage[-1] != current:
            raise ModelRegistryError(
                f"model {name!r}: {CHAMPION} is version {current} in MLflow, but the audit table "
                f"{AUDIT_TABLE} says {lineage[-1] if lineage else 'nothing'}: the alias was changed outside "
                f"Maestro; promote the intended version with ModelRegistry.promote, then roll back"
            )
        earlier = [v for v in lineage[:-1] if v is not None and v != current]
        if not earlier:
            changes = "; ".join(
                f"{r.action} {r.previous_version or '-'} → {r.version or '-'} ({r.changed_at:%Y-%m-%d %H:%M} UTC)"
                for r in rows.itertuples(index=False)
            )
            raise NoEarlierChampion(
                f"model {name!r} has no earlier {CHAMPION} to roll back to: version {current} is champion and "
                f"its champion history is: {changes} (`maestro models history {name}` shows all); "
                "promote another version instead"
            )
        target = earlier[-1]
        self._model_version(name, target)
        self._audit(
            name,
            CHAMPION,
            target,
            current,
            reason,
            dagster_run_id,
            ACTION_ROLLBACK,
            lambda: self._call(self.client.set_registered_model_alias, name, CHAMPION, target),
        )
        return current, target

    # -- the audit table -------------------------------------------------------------------------
    def _ensure_table(self) -> None:
        if not self._table_ready:
            _metadata.create_all(self.warehouse.engine, tables=[AUDIT], checkfirst=True)
            self._table_ready = True

    def _audit(
        self,
        name: str,
        alias: str,
        version: str | None,
        previous: str | None,
        reason: str,
        dagster_run_id: str | None,
        action: str,
        change: Callable[[], None],
    ) -> None:
        """Write the audit row and make the change in MLflow inside one warehouse transaction: a change
        MLflow refuses leaves no row, and no change is made that could not be audited."""
        self._ensure_table()
        changed_at = datetime.now(UTC)
        if self.warehouse.dialect != "postgresql":  # DATETIME columns without a zone: store UTC as is
            changed_at = changed_at.replace(tzinfo=None)
        with self.warehouse.engine.begin() as conn:
            conn.execute(
                AUDIT.insert().values(
                    model=name,
                    alias=alias,
                    version=version,
                    previous_version=previous,
                    changed_at=changed_at,
                    reason=reason,
                    dagster_run_id=dagster_run_id,
                    action=action,
                )
            )
            change()

    def _rows(self, name: str, alias: str | None = None) -> pd.DataFrame:
        self._ensure_table()
        statement = sa.select(AUDIT).where(AUDIT.c.model == name).order_by(AUDIT.c.id)
        if alias is not None:
            statement = statement.where(AUDIT.c.alias == alias)
        with self.warehouse.engine.connect() as conn:
            frame = pd.DataFrame(conn.execute(statement).mappings().all(), columns=AUDIT_COLUMNS)
        frame["changed_at"] = pd.to_datetime(frame["changed_at"], utc=True)
        return frame

    def history(self, name: str) -> pd.DataFrame:
        """Every audited alias change of the model, oldest first (the columns of ``model_alias_audit``)."""
        _check_name(name)
        rows = self._rows(name)
        if rows.empty:
            self._registered_model(name)  # an unknown model is an error, a known one has no changes yet
        return rows


def champion_lineage(rows: pd.DataFrame) -> list[str | None]:
    """The champions of a model as a stack, from its audited ``champion`` rows in order: a promotion
    or set pushes its version (unless it already holds the alias), a rollback pops the current one,
    a removal pushes None (no champion). The last entry is the champion now."""
    stack: list[str | None] = []
    for row in rows.itertuples(index=False):
        if row.action == ACTION_ROLLBACK:
            if stack:
                stack.pop()
            while stack and stack[-1] is None:
                stack.pop()
            if not stack or stack[-1] != row.version:
                stack.append(row.version)
        elif row.action == ACTION_REMOVE:
            stack.append(None)
        elif not stack or stack[-1] != row.version:
            stack.append(row.version)
    return stack


_MODEL_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,254}$")


def _check_name(name: str) -> None:
    if not isinstance(name, str) or not _MODEL_NAME.fullmatch(name):
        raise ModelRegistryError(
            f"{name!r} is not a registered model name Maestro uses: letters, digits, '_', '.' and '-' "
            "(the model's key in models.yaml)"
        )


def _check_reason(name: str, reason: str) -> None:
    if not isinstance(reason, str) or not reason.strip():
        raise ModelRegistryError(f"model {name!r}: give a reason for the alias change (it is audited)")


def _aliases_text(aliases: Mapping[str, str]) -> str:
    return ", ".join(f"{a} → {v}" for a, v in sorted(aliases.items())) or "none"
