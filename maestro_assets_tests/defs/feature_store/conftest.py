"""The Feast tests' resources: a private lake and a copy of feature_repo/ under the test's home."""

import shutil

import pytest

from maestro_assets.lib import settings
from maestro_assets.resources import FeatureStoreResource, LakeResource


@pytest.fixture
def repo(tmp_path):
    """A copy of feature_repo/, so a test can add to it."""
    copy = tmp_path / "feature_repo"
    shutil.copytree(settings.default_feature_repo(), copy, ignore=shutil.ignore_patterns("__pycache__", "data"))
    return copy


@pytest.fixture
def resources(maestro_home, repo, monkeypatch):
    lake_url = str(maestro_home / "lake")
    monkeypatch.setenv(settings.ENV_LAKE_URL, lake_url)
    return {"lake": LakeResource(url=lake_url), "feature_store": FeatureStoreResource(repo_path=str(repo))}
