"""Opening the Feast repository (``feature_repo/``) with Maestro's settings applied."""

from __future__ import annotations

import os
from pathlib import Path

from ..errors import ConfigurationError
from ..settings import ENV_FEATURE_REPO, ENV_HOME, maestro_home


def open_feature_store(repo_path: str | Path):
    """A ``feast.FeatureStore`` over ``repo_path``.

    ``feature_store.yaml`` refers to ``${MAESTRO_HOME}`` for its local registry and online
    store; the variable is set to the resolved home when it is not set already.
    """
    from feast import FeatureStore

    repo = Path(repo_path).expanduser().resolve()
    if not (repo / "feature_store.yaml").is_file():
        raise ConfigurationError(ENV_FEATURE_REPO, f"{repo} has no feature_store.yaml")
    os.environ.setdefault(ENV_HOME, str(maestro_home()))
    (maestro_home() / "feast").mkdir(parents=True, exist_ok=True)
    try:
        return FeatureStore(repo_path=str(repo))
    except Exception as exc:
        raise ConfigurationError(
            ENV_FEATURE_REPO, f"cannot load the Feast repo at {repo}: {type(exc).__name__}: {exc}"
        ) from None
