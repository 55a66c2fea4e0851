"""What the analytics assets read: the git repositories and CI sources of ``analytics.yaml``.

The file (``MAESTRO_ANALYTICS`` points at another one) lists

* ``repositories`` — local git repositories by name; an entry without ``path`` is the demo's own
  repository (``settings.demo_git_path()``), a relative path is relative to the file's folder;
* ``ci_sources`` — where CI runs come from: ``github_export`` (a JSON file of GitHub's
  ``/actions/runs`` response at ``lake_key`` in the lake, the demo's ``ci_runs_export`` by default)
  or ``github`` (the REST API: ``owner``, ``repo``, the token's variable ``token_env``); its
  ``repository`` names the git repository above whose commit times give DORA lead times;
* ``deployment`` — the deployment predicate: :func:`~.cicd.looks_like_deployment` with the stage
  name ``deploy_stage``;
* ``success_prediction`` — what the project success meta-model reads besides the projects, tasks,
  users and teams of the features inputs: ``artifact_usage``, the silver table of artifact uses.

Validated with pydantic like the other YAML files; a wrong file fails the code location's load
with a message naming the file and the field.
"""

from __future__ import annotations

import functools
import json
from datetime import datetime, timedelta
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from .. import settings
from ..errors import MaestroError, validation_problems
from ..lake import Lake
from .cicd import DEPLOY_STAGE, GitHubActionsApi, PipelineRun, github_export_records, github_run, looks_like_deployment

DEMO_CI_EXPORT_KEY = "landing/ci_exports/github_actions_runs.json"  # where the demo's ci_runs_export writes
DEMO_REPOSITORY = "platform-service"


class AnalyticsConfigError(MaestroError):
    """``analytics.yaml`` cannot be used: the message names the file and the field."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class RepositoryConfig(_Strict):
    name: str = Field(min_length=1, max_length=200, description="the repository's name in the metrics tables")
    path: Path | None = Field(default=None, description="a local git repository; default the demo's own")

    def local_path(self) -> Path:
        return self.path if self.path is not None else settings.demo_git_path()


class CiSourceConfig(_Strict):
    name: str = Field(min_length=1, max_length=200, description="the name its metrics are written under")
    kind: Literal["github_export", "github"] = "github_export"
    lake_key: str | None = Field(default=None, description="github_export: the JSON file's key in the lake")
    owner: str | None = Field(default=None, description="github: the repository's owner")
    repo: str | None = Field(default=None, description="github: the repository's name")
    token_env: str = Field(default="GITHUB_TOKEN", description="github: the variable holding the token")
    api_url: str = "https://api.github.com"
    repository: str | None = Field(default=None, description="the git repository (of `repositories`) deployed")

    @model_validator(mode="after")
    def _fields_of_kind(self) -> CiSourceConfig:
        if self.kind == "github_export" and not self.lake_key:
            raise ValueError("a github_export source needs `lake_key` (the export's key in the lake)")
        if self.kind == "github" and not (self.owner and self.repo):
            raise ValueError("a github source needs `owner` and `repo`")
        return self


class DeploymentConfig(_Strict):
    deploy_stage: str = Field(default=DEPLOY_STAGE, min_length=1, description="a job stage that deploys")


class SuccessPredictionConfig(_Strict):
    artifact_usage: str | None = Field(
        default="demo_db/artifact_usage",
        description="the silver table (source/table) of artifact uses (artifact_id, project_id, used_at) behind "
        "the meta-model's artifact_reuse feature; null: no reuse feature",
    )


class AnalyticsConfig(_Strict):
    repositories: list[RepositoryConfig] = Field(default_factory=lambda: [RepositoryConfig(name=DEMO_REPOSITORY)])
    ci_sources: list[CiSourceConfig] = Field(
        default_factory=lambda: [
            CiSourceConfig(name=DEMO_REPOSITORY, lake_key=DEMO_CI_EXPORT_KEY, repository=DEMO_REPOSITORY)
        ]
    )
    deployment: DeploymentConfig = Field(default_factory=DeploymentConfig)
    success_prediction: SuccessPredictionConfig = Field(default_factory=SuccessPredictionConfig)

    @model_validator(mode="after")
    def _names(self) -> AnalyticsConfig:
        for what, entries in (("repositories", self.repositories), ("ci_sources", self.ci_sources)):
            names = [e.name for e in entries]
            twice = sorted({n for n in names if names.count(n) > 1})
            if twice:
                raise ValueError(f"{what}: the name(s) {', '.join(twice)} appear more than once")
        known = {r.name for r in self.repositories}
        for index, source in enumerate(self.ci_sources):
            if source.repository is not None and source.repository not in known:
                raise ValueError(
                    f"ci_sources.{index}.repository: {source.repository!r} is not one of the repositories "
                    f"({', '.join(sorted(known)) or 'none'})"
                )
        return self

    def repository(self, name: str | None) -> RepositoryConfig | None:
        return next((r for r in self.repositories if r.name == name), None)

    def deployment_predicate(self):
        return functools.partial(looks_like_deployment, deploy_stage=self.deployment.deploy_stage)


def load_analytics_config(path: str | Path | None = None) -> AnalyticsConfig:
    """The analytics configuration from ``path`` (default :func:`settings.analytics_file`)."""
    path = Path(path) if path is not None else settings.analytics_file()
    try:
        document = yaml.safe_load(path.read_text())
    except OSError as exc:
        raise AnalyticsConfigError(
            f"cannot read the analytics configuration {path}: {exc.strerror or exc} "
            f"(set {settings.ENV_ANALYTICS} to the file)"
        ) from None
    except yaml.YAMLError as exc:
        raise AnalyticsConfigError(f"{path} is not valid YAML: {exc}") from None
    if document is None:
        document = {}
    if not isinstance(document, dict):
        raise AnalyticsConfigError(f"{path}: the file must be a mapping with repositories, ci_sources, deployment")
    try:
        config = AnalyticsConfig.model_validate(document)
    except ValidationError as exc:
        raise AnalyticsConfigError(f"{path}: {validation_problems(exc)}") from None
    for repository in config.repositories:
        if repository.path is not None and not repository.path.is_absolute():
            repository.path = (path.parent / repository.path).resolve()
    return config


def ci_runs(source: CiSourceConfig, lake: Lake, window: tuple[datetime, datetime], predicate) -> list[PipelineRun]:
    """The runs of ``source`` a weekly partition needs: the export's every run (the metrics keep
    the window's own; later runs supply restoring deployments), or from the API the runs created
    from the window's start to a week after its end (the later week for times to restore)."""
    if source.kind == "github_export":
        where = f"{lake.url.rstrip('/')}/{source.lake_key}"
        try:
            export = json.loads(lake.get(source.lake_key))
        except json.JSONDecodeError as exc:
            raise AnalyticsConfigError(f"{where} (ci_sources {source.name!r}): not valid JSON: {exc}") from None
        records = github_export_records(export, where)
        return [github_run(record, where, index, predicate) for index, record in enumerate(records)]
    start, end = window
    api = GitHubActionsApi(
        owner=source.owner,
        repo=source.repo,
        api_url=source.api_url,
        token_env=source.token_env,
        created_from=start.date(),
        created_until=(end + timedelta(days=6)).date(),
        deployment_predicate=predicate,
    )
    return api.runs()
