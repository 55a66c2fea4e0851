"""`make ui`'s server: dagster-webserver loads workspace.yaml and serves the asset graph."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from conftest import free_port, stop_process, wait_for_port

ROOT = Path(__file__).resolve().parents[1]
QUERY = "{ assetNodes { assetKey { path } groupName description } }"


def graphql(base: str, query: str) -> dict:
    request = urllib.request.Request(
        f"{base}/graphql",
        data=json.dumps({"query": query}).encode(),
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=60) as response:
        return json.loads(response.read())


def test_webserver_serves_the_asset_graph(maestro_home):
    port = free_port()
    env = dict(os.environ, DAGSTER_HOME=str(maestro_home / "dagster"))
    process = subprocess.Popen(
        [
            str(Path(sys.executable).parent / "dagster-webserver"),
            "-w",
            "workspace.yaml",
            "-h",
            "127.0.0.1",
            "-p",
            str(port),
        ],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_for_port(port, timeout=120, process=process)
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 120
        while True:  # the code location loads in the background after the port opens
            nodes = graphql(base, QUERY).get("data", {}).get("assetNodes") or []
            if nodes or time.monotonic() > deadline:
                break
            time.sleep(1)
        groups = {"/".join(n["assetKey"]["path"]): n["groupName"] for n in nodes}
        assert groups.get("demo/tasks") == "demo_source_system"
        assert groups.get("demo/git_repository") == "demo_source_system"
        assert all(n["description"] for n in nodes)
    finally:
        stop_process(process)
