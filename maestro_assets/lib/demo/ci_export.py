"""``ci_runs_export()``: the CI runs as GitHub Actions would list them.

The shape is the response of ``GET /repos/{owner}/{repo}/actions/runs``:
``{"total_count": N, "workflow_runs": [...]}`` with the run fields GitHub returns (ids,
branch and SHA, workflow, event, status and conclusion, ISO-8601 ``Z`` timestamps, actor and
repository). Each project is a repository of the ``maestro-demo`` organisation. Deployments
need no extra rows: every deployment already is a ``deploy`` run in ``ci_runs``.
"""

from __future__ import annotations

import base64

import numpy as np
import pandas as pd

from ._common import logins
from .generator import DemoData

OWNER = "maestro-demo"
API = "https://api.github.com"
WEB = "https://github.com"
WORKFLOWS = ("build", "test", "deploy")
REPOSITORY_ID_BASE = 700_000_000
WORKFLOW_ID_BASE = 50_000_000
ISO_FORMAT = "%Y-%m-%dT%H:%M:%SZ"


def _node_id(prefix: str, number: int) -> str:
    return prefix + base64.b64encode(f"{prefix}{number}".encode()).decode().rstrip("=")


def _repositories(data: DemoData) -> pd.DataFrame:
    slug = data.projects["name"].str.lower().str.replace(r"[^a-z0-9]+", "-", regex=True).str.strip("-")
    return pd.DataFrame(
        {
            "project_id": data.projects["project_id"],
            "repo_id": REPOSITORY_ID_BASE + data.projects["project_id"],
            "repo_name": slug + "-" + data.projects["project_id"].astype(str),
        }
    )


def ci_runs_export(data: DemoData) -> dict:
    """``{"total_count", "workflow_runs"}`` for every row of ``data.ci_runs``; ``json.dumps``-able."""
    runs = data.ci_runs.merge(_repositories(data), on="project_id", how="left", validate="many_to_one")
    user_by_login = pd.Series(data.users["user_id"].to_numpy(), index=logins(data.users["email"]).to_numpy())
    runs["run_number"] = runs.groupby(["project_id", "workflow"]).cumcount() + 1  # rows are in time order
    runs["workflow_id"] = (
        WORKFLOW_ID_BASE
        + runs["project_id"] * len(WORKFLOWS)
        + runs["workflow"].map({w: i for i, w in enumerate(WORKFLOWS)})
    )
    runs["actor_id"] = user_by_login.reindex(runs["actor"]).to_numpy()
    for column in ("created_at", "started_at", "updated_at"):
        runs[column] = runs[column].dt.strftime(ISO_FORMAT)
    titles = np.select(
        [runs["event"] == "pull_request", runs["event"] == "schedule", runs["workflow"] == "deploy"],
        [
            "Pull request: " + runs["branch"].str.replace("feature/", "", regex=False),
            "Scheduled " + runs["workflow"],
            "Deploy " + runs["sha"].str[:7],
        ],
        "Update " + runs["repo_name"] + " (" + runs["sha"].str[:7] + ")",
    )

    workflow_runs = []
    for row, title in zip(runs.itertuples(index=False), titles):
        full_name = f"{OWNER}/{row.repo_name}"
        url = f"{API}/repos/{full_name}/actions/runs/{row.run_id}"
        workflow_runs.append(
            {
                "id": int(row.run_id),
                "name": row.workflow,
                "node_id": _node_id("WFR_", int(row.run_id)),
                "head_branch": row.branch,
                "head_sha": row.sha,
                "path": f".github/workflows/{row.workflow}.yml",
                "display_title": str(title),
                "run_number": int(row.run_number),
                "run_attempt": 1,
                "event": row.event,
                "status": row.status,
                "conclusion": row.conclusion,
                "workflow_id": int(row.workflow_id),
                "url": url,
                "html_url": f"{WEB}/{full_name}/actions/runs/{row.run_id}",
                "jobs_url": f"{url}/jobs",
                "logs_url": f"{url}/logs",
                "workflow_url": f"{API}/repos/{full_name}/actions/workflows/{row.workflow_id}",
                "created_at": row.created_at,
                "updated_at": row.updated_at,
                "run_started_at": row.started_at,
                "actor": {"login": row.actor, "id": int(row.actor_id), "type": "User"},
                "triggering_actor": {"login": row.actor, "id": int(row.actor_id), "type": "User"},
                "head_commit": {"id": row.sha, "message": str(title), "timestamp": row.created_at},
                "repository": {
                    "id": int(row.repo_id),
                    "name": row.repo_name,
                    "full_name": full_name,
                    "node_id": _node_id("R_", int(row.repo_id)),
                    "private": True,
                    "html_url": f"{WEB}/{full_name}",
                    "owner": {"login": OWNER, "type": "Organization"},
                },
            }
        )
    return {"total_count": len(workflow_runs), "workflow_runs": workflow_runs}
