"""A declared REST source through Dagster, against a local API that paginates by Link header,
answers 429 once, and returns records of several days."""

import json
import re
import threading
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from dagster import DagsterInstance, materialize

from maestro_assets.defs.ingestion.assets import build_bronze_asset
from maestro_assets.lib.ingestion.sources import parse_sources
from maestro_assets.resources import LakeResource

RUNS = [
    {
        "id": i,
        "status": "completed",
        "conclusion": "success" if i % 3 else "failure",
        "created_at": (datetime(2026, 9, 1, tzinfo=UTC) + timedelta(hours=7 * i)).isoformat().replace("+00:00", "Z"),
    }
    for i in range(25)
]


class Api(BaseHTTPRequestHandler):
    calls: list[str] = []
    throttled = False
    runs: list[dict] = RUNS

    def do_GET(self):  # noqa: N802 (http.server's name)
        Api.calls.append(self.path)
        if self.headers.get("Authorization") != "Bearer s3cret-token":
            return self._send(401, b'{"message": "bad credentials"}')
        if not Api.throttled:
            Api.throttled = True
            return self._send(429, b"{}", {"Retry-After": "0"})
        page = int(self.path.split("page=")[1].split("&")[0]) if "page=" in self.path else 1
        body = json.dumps({"workflow_runs": Api.runs[(page - 1) * 10 : page * 10]}).encode()
        links = {}
        if page * 10 < len(Api.runs):
            host = f"http://127.0.0.1:{self.server.server_port}"
            links["Link"] = f'<{host}/actions/runs?page={page + 1}>; rel="next"'
        self._send(200, body, links)

    def _send(self, status, body, headers=None):
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@pytest.fixture
def api():
    server = ThreadingHTTPServer(("127.0.0.1", 0), Api)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    Api.calls, Api.throttled, Api.runs = [], False, RUNS
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    server.server_close()


def github_runs_asset(api, maestro_home, monkeypatch):
    monkeypatch.setenv("GITHUB_API_URL", api)
    monkeypatch.setenv("GITHUB_TOKEN", "Bearer s3cret-token")
    config = parse_sources(
        {
            "start_date": "2026-08-01",
            "sources": [
                {
                    "name": "github",
                    "kind": "rest",
                    "connection_env": "GITHUB_API_URL",
                    "auth_env": "GITHUB_TOKEN",
                    "tables": [
                        {
                            "table": "workflow_runs",
                            "path": "/actions/runs",
                            "pagination": "link",
                            "records_path": "workflow_runs",
                            "keys": ["id"],
                            "watermark": "created_at",
                        }
                    ],
                }
            ],
        },
        maestro_home / "sources.yaml",
    )
    source = config.sources[0]
    return build_bronze_asset(source, source.tables[0]), LakeResource(url=str(maestro_home / "lake"))


def materialize_days(asset, lake, instance, raise_on_error=True):
    from maestro_assets.defs.runs import partition_range_tags

    return materialize(
        [asset],
        resources={"lake": lake},
        instance=instance,
        raise_on_error=raise_on_error,
        tags=partition_range_tags("2026-09-01", "2026-09-05"),
    )


def test_rest_source_lands_in_daily_bronze_partitions(api, maestro_home, monkeypatch):
    asset, lake = github_runs_asset(api, maestro_home, monkeypatch)
    with DagsterInstance.ephemeral() as instance:
        result = materialize_days(asset, lake, instance)
        assert result.success
        metadata = result.asset_materializations_for_node(asset.op.name)[0].metadata
    assert metadata["records_read"].value == 25
    # 25 runs, 7 h apart from Sep 1: Sep 1-5 hold runs 0..17; later ones belong to later partitions
    expected = {
        f"2026-09-0{d}": sum(1 for r in RUNS if r["created_at"].startswith(f"2026-09-0{d}")) for d in range(1, 6)
    }
    store = lake.client()
    assert {
        d: store.read_partition("bronze", "github/workflow_runs", ("date", d)).num_rows for d in expected
    } == expected
    assert metadata["records_written"].value == sum(expected.values())
    assert len(Api.calls) == 4  # one 429, then three pages following the Link header
    assert "retried 1 request" in metadata["errors"].value
    assert "s3cret-token" not in json.dumps({k: str(v.value) for k, v in metadata.items()})


@pytest.mark.parametrize(
    "bad, message",
    [
        (
            {"created_at": None},
            r"source 'github', table 'workflow_runs': 1 record\(s\) have no 'created_at' and belong "
            r"to no daily partition; the first is record 12: \{'id': '12'",
        ),
        (
            {"created_at": "last tuesday"},
            r"source 'github', table 'workflow_runs': record 12 has "
            r"created_at='last tuesday', which is not a timestamp",
        ),
    ],
)
def test_record_without_a_usable_watermark_fails_the_run_naming_it(api, maestro_home, monkeypatch, bad, message):
    """Such a record belongs to no partition: the run fails saying which (no retry: it is bad data),
    and no partition is written, so nothing is dropped silently."""
    Api.runs = [dict(run, **bad) if run["id"] == 12 else run for run in RUNS]
    asset, lake = github_runs_asset(api, maestro_home, monkeypatch)
    with DagsterInstance.ephemeral() as instance:
        result = materialize_days(asset, lake, instance, raise_on_error=False)
        assert not result.success
        failure = next(e for e in result.all_events if e.event_type_value == "STEP_FAILURE")
        assert re.search(message, failure.event_specific_data.error.message), failure.event_specific_data.error.message
        assert len(Api.calls) == 4  # fetched once: bad data is not retried
    assert lake.client().partitions("bronze", "github/workflow_runs") == []
