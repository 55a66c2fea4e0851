"""``feast apply`` as a function: plan the repository against the registry, apply it, and say
what was added, changed or removed."""

from __future__ import annotations

import contextlib
import sys
from dataclasses import dataclass
from pathlib import Path

from ..errors import ConfigurationError, is_transient
from ..redact import redact_url, scrub
from ..settings import ENV_FEATURE_REPO

# Feast's TransitionType by name: Feast is imported where it is used, not with the code location
VERBS = {"CREATE": "added", "UPDATE": "changed", "DELETE": "removed", "UNCHANGED": "unchanged"}


@dataclass(frozen=True)
class Change:
    kind: str  # entity, feature view, feature service, data source …
    name: str
    change: str  # added, changed, removed, unchanged
    details: str = ""


@dataclass
class ApplyResult:
    changes: list[Change]

    def count(self, change: str) -> int:
        return sum(1 for c in self.changes if c.change == change)

    def markdown(self) -> str:
        rows = [c for c in self.changes if c.change != "unchanged"]
        if not rows:
            return f"_no change_ ({len(self.changes)} objects unchanged)"
        lines = ["| object | name | change | details |", "|---|---|---|---|"]
        lines += [f"| {c.kind} | `{c.name}` | **{c.change}** | {c.details} |" for c in rows]
        return "\n".join(lines) + f"\n\n{self.count('unchanged')} objects unchanged."


class RegistryUnreachable(ConnectionError):
    """The registry's database or file store does not answer (transient: the run is retried)."""


def registry_location(store) -> str:
    """Where the registry is, without a password."""
    registry = store.config.registry
    path = getattr(registry, "path", "") or ""
    return f"{getattr(registry, 'registry_type', 'file')} registry at {redact_url(path) if '://' in path else path}"


def read_repo(repo_path: str | Path):
    """Feast's own parse of the repository's Python files (it imports them relative to the repo)."""
    from feast.repo_operations import parse_repo

    root = Path(repo_path).expanduser().resolve()
    for path in root.rglob("*.py"):  # imported again on every read: the files (or the lake URL) may have changed
        sys.modules.pop(".".join(path.relative_to(root).with_suffix("").parts), None)
    added = str(root) not in sys.path
    if added:
        sys.path.insert(0, str(root))
    try:
        with contextlib.chdir(root):
            return parse_repo(root)
    except Exception as exc:
        raise ConfigurationError(
            ENV_FEATURE_REPO, f"the Feast repo at {root} does not load: {type(exc).__name__}: {exc}"
        ) from None
    finally:
        if added:
            sys.path.remove(str(root))


def _kind(object_type) -> str:
    return object_type.name.lower().replace("_", " ")


def apply_repo(store, repo_path: str | Path) -> ApplyResult:
    """Apply the repository at ``repo_path`` to ``store``'s registry (objects no longer declared are
    removed) and return the diff that was applied."""
    from feast.repo_operations import extract_objects_for_apply_delete

    repo = read_repo(repo_path)
    try:
        registry_diff, _, _ = store.plan(repo)
    except Exception as exc:
        if is_transient(exc):  # still transient (retried), but saying which store and where it is set
            raise RegistryUnreachable(
                f"the Feast registry ({registry_location(store)}, set in {Path(repo_path) / 'feature_store.yaml'}) "
                f"cannot be reached: {scrub(str(exc).splitlines()[0])}"
            ) from exc
        raise
    changes = []
    for diff in registry_diff.feast_object_diffs:
        if diff.name == "__dummy" or diff.name == store.project:  # Feast's own placeholder entity and project
            continue
        details = ", ".join(f"{p.property_name}" for p in getattr(diff, "feast_object_property_diffs", []))
        changes.append(Change(_kind(diff.feast_object_type), diff.name, VERBS[diff.transition_type.name], details))
    to_apply, to_delete, _, _ = extract_objects_for_apply_delete(store.project, store.registry, repo)
    store.apply(to_apply, objects_to_delete=to_delete, partial=False)
    return ApplyResult(sorted(changes, key=lambda c: (c.kind, c.name)))
