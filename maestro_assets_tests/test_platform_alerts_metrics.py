"""Alerts and metrics against a real Dagster instance: failed runs and a failed blocking check
posted to a local webhook (redacted, retried on 5xx), and the Prometheus exporter scraped over HTTP."""

from __future__ import annotations

import json
import logging
import threading
import time
from contextlib import contextmanager
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import dagster as dg
import pandas as pd
import pytest
import requests
from dagster._core.events import DagsterEvent, DagsterEventType, StepMaterializationData
from dagster._core.instance.utils import RUNLESS_JOB_NAME, RUNLESS_RUN_ID
from prometheus_client.parser import text_string_to_metric_families

from maestro_assets.defs.alerts.platform_state import read_platform_snapshot
from maestro_assets.defs.alerts.sensors import alert_on_blocking_check_failure, alert_on_run_failure
from maestro_assets.lib import settings
from maestro_assets.lib.lake import LocalLake
from maestro_assets.lib.platform import alerts
from maestro_assets.lib.platform.metrics import MAX_AGE_METADATA, serve_metrics
from maestro_assets_tests.conftest import free_port

DB_PASSWORD = "s3cr3t-db-pass"
ENV_SECRET = "AKIAsecretvalue42"
UI_URL = "http://dagster.example:3000"


# -- a webhook that records what it receives -------------------------------------------------------
class Webhook:
    def __init__(self):
        self.received: list[dict] = []
        self.statuses: list[int] = []  # answers to give, in order; empty: 200

    def handler(self):
        hook = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers["Content-Length"]))
                hook.received.append(json.loads(body))
                status = hook.statuses.pop(0) if hook.statuses else 200
                self.send_response(status)
                self.end_headers()
                self.wfile.write(b"ok" if status < 400 else b"internal error")

            def log_message(self, *args):
                pass

        return Handler


@pytest.fixture(scope="module")
def webhook_server():
    hook = Webhook()
    server = ThreadingHTTPServer(("127.0.0.1", 0), hook.handler())
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    hook.url = f"http://127.0.0.1:{server.server_address[1]}/hook"
    yield hook
    server.shutdown()


@pytest.fixture
def webhook(webhook_server, monkeypatch):
    webhook_server.received.clear()
    webhook_server.statuses.clear()
    monkeypatch.setenv(settings.ENV_ALERT_WEBHOOK_URL, webhook_server.url)
    monkeypatch.setenv(settings.ENV_UI_URL, UI_URL + "/")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", ENV_SECRET)
    return webhook_server


# -- a tiny platform: assets that succeed, fail, fail a blocking check, and a serving check ---------
@dg.asset(freshness_policy=dg.FreshnessPolicy.time_window(fail_window=timedelta(hours=1)))
def fresh_asset():
    return 1


@dg.asset(metadata={MAX_AGE_METADATA: 3600})
def stale_asset():
    return 1


@dg.asset
def exploding_asset():
    raise RuntimeError(
        f"cannot reach postgresql://maestro:{DB_PASSWORD}@db.internal/warehouse (key {ENV_SECRET})\n"
        "the second line of the error"
    )


@dg.asset(check_specs=[dg.AssetCheckSpec("row_count_positive", asset="checked_asset", blocking=True)])
def checked_asset():
    yield dg.MaterializeResult(
        check_results=[
            dg.AssetCheckResult(
                check_name="row_count_positive",
                passed=False,
                metadata={"rows": 0, "source": f"postgresql://maestro:{DB_PASSWORD}@db.internal/w"},
            )
        ]
    )


@dg.asset(check_specs=[dg.AssetCheckSpec("latency", asset="serving_check_tiny", blocking=True)])
def serving_check_tiny():
    metrics = {"one_row_p50_ms": 1.5, "one_row_p95_ms": 2.5, "one_row_p99_ms": 4.0}
    metrics |= {"one_row_throughput_rows_per_s": 400.0, "hundred_rows_throughput_rows_per_s": 9000.0}
    yield dg.MaterializeResult(metadata=metrics, check_results=[dg.AssetCheckResult(check_name="latency", passed=True)])


ASSETS = [fresh_asset, stale_asset, exploding_asset, checked_asset, serving_check_tiny]


@pytest.fixture(scope="module")
def platform():
    """An instance with one successful run, two failed ones and an old materialization of stale_asset."""
    with dg.instance_for_test() as instance:
        ok = dg.materialize([fresh_asset, serving_check_tiny], instance=instance)
        exploded = dg.materialize([exploding_asset], instance=instance, raise_on_error=False)
        checked = dg.materialize([checked_asset], instance=instance, raise_on_error=False)
        assert ok.success and not exploded.success and not checked.success
        instance.report_dagster_event(  # materialized two hours ago: overdue for its max age of one hour
            DagsterEvent(
                event_type_value=DagsterEventType.ASSET_MATERIALIZATION.value,
                event_specific_data=StepMaterializationData(dg.AssetMaterialization("stale_asset")),
                job_name=RUNLESS_JOB_NAME,
            ),
            run_id=RUNLESS_RUN_ID,
            timestamp=time.time() - 7200,
        )
        yield instance, {"exploded": exploded, "checked": checked}


def failure_context(instance, result, sensor):
    return dg.build_run_status_sensor_context(
        sensor_name=sensor.name,
        dagster_event=result.get_run_failure_event(),
        dagster_instance=instance,
        dagster_run=result.dagster_run,
    ).for_run_failure()


# -- alerts ------------------------------------------------------------------------------------------
def test_run_failure_posts_run_step_first_error_line_and_link_redacted(platform, webhook):
    instance, runs = platform
    run_id = runs["exploded"].run_id
    assert alert_on_run_failure(failure_context(instance, runs["exploded"], alert_on_run_failure)) is None
    assert len(webhook.received) == 1
    payload = webhook.received[0]
    body = json.dumps(payload)
    assert run_id in payload["text"] and "exploding_asset" in payload["text"]
    assert f"job `{runs['exploded'].dagster_run.job_name}`" in payload["text"]
    assert "cannot reach postgresql://maestro:***@db.internal/warehouse (key ***)" in payload["text"]
    assert DB_PASSWORD not in body and ENV_SECRET not in body
    assert "second line" not in body
    assert f"{UI_URL}/runs/{run_id}" in body  # the trailing slash of MAESTRO_UI_URL is not doubled
    assert payload["blocks"][0]["type"] == "header"
    fields = {f["text"].split("\n")[0]: f["text"].split("\n", 1)[1] for f in payload["blocks"][2]["fields"]}
    assert fields["*Failed steps*"] == "exploding_asset"
    assert fields["*Assets not materialized*"] == "exploding_asset"


def test_a_run_the_instance_re_runs_says_so(webhook):
    """On an instance with run retries (deploy/dagster.yaml), a failed run it re-runs is alerted as such."""
    with dg.instance_for_test(overrides={"run_retries": {"enabled": True, "max_retries": 1}}) as instance:
        retried = dg.materialize([exploding_asset], instance=instance, raise_on_error=False)
        assert instance.get_run_by_id(retried.run_id).tags.get("dagster/will_retry") == "true"
        alert_on_run_failure(failure_context(instance, retried, alert_on_run_failure))
        plain = dg.materialize(
            [exploding_asset], instance=instance, raise_on_error=False, tags={"dagster/max_retries": "0"}
        )
        alert_on_run_failure(failure_context(instance, plain, alert_on_run_failure))
    first, second = webhook.received
    assert first["text"].endswith("the instance re-runs it from the failure — " + f"{UI_URL}/runs/{retried.run_id}")
    assert "re-runs" not in second["text"]


def test_failed_blocking_check_posts_check_asset_and_metadata(platform, webhook):
    instance, runs = platform
    run_id = runs["checked"].run_id
    result = alert_on_blocking_check_failure(
        failure_context(instance, runs["checked"], alert_on_blocking_check_failure)
    )
    assert result is None  # a run-status sensor returning a value would end its tick after this run
    assert len(webhook.received) == 1
    body = json.dumps(webhook.received[0])
    assert "row_count_positive" in webhook.received[0]["text"] and "checked_asset" in webhook.received[0]["text"]
    assert "rows: 0" in body and "ERROR" in body
    assert "postgresql://maestro:***@db.internal/w" in body and DB_PASSWORD not in body
    assert f"{UI_URL}/runs/{run_id}" in body
    # a run without a failed blocking check posts no check alert
    webhook.received.clear()
    result = alert_on_blocking_check_failure(
        failure_context(instance, runs["exploded"], alert_on_blocking_check_failure)
    )
    assert result is None and webhook.received == []


def test_server_error_is_retried_then_given_up_with_a_log(webhook, caplog):
    webhook.statuses[:] = [500, 500, 500]
    payload = alerts.run_failure_payload(alerts.RunFailure("r1", "job", "boom", ("step",)))
    with caplog.at_level(logging.WARNING, logger=alerts.LOG.name):
        assert alerts.send_alert(payload, backoff=0.01) is False
    assert len(webhook.received) == 3  # tried three times
    assert "given up after 3 attempts: HTTP 500" in caplog.text
    assert "/hook" not in caplog.text  # the webhook's path is a credential (Slack's): never logged
    # a 5xx then a success is delivered on the second attempt
    webhook.received.clear()
    webhook.statuses[:] = [503]
    assert alerts.send_alert(payload, backoff=0.01) is True and len(webhook.received) == 2
    # a 4xx is the request's fault: not retried
    webhook.received.clear()
    webhook.statuses[:] = [400]
    assert alerts.send_alert(payload, backoff=0.01) is False and len(webhook.received) == 1


def test_unreachable_webhook_is_retried_and_never_raises(caplog):
    url = f"http://127.0.0.1:{free_port()}/hook"  # nothing listens
    with caplog.at_level(logging.WARNING, logger=alerts.LOG.name):
        assert alerts.send_alert({"text": "x"}, url, backoff=0.01, timeout=1) is False
    assert caplog.text.count("trying again") == 2 and "given up after 3 attempts: ConnectionError" in caplog.text


def test_no_webhook_url_sends_nothing_and_logs_once(monkeypatch, caplog):
    monkeypatch.delenv(settings.ENV_ALERT_WEBHOOK_URL, raising=False)
    monkeypatch.setattr(alerts, "_warned_no_url", False)
    with caplog.at_level(logging.INFO, logger=alerts.LOG.name):
        assert alerts.send_alert({"text": "a"}) is False
        assert alerts.send_alert({"text": "b"}) is False
    assert caplog.text.count("MAESTRO_ALERT_WEBHOOK_URL is not set") == 1


def test_alert_sensors_are_in_the_code_location_and_running_by_default():
    from maestro_assets.definitions import defs

    sensors = {sensor.name: sensor for sensor in defs.sensors}
    for name in ("alert_on_run_failure", "alert_on_blocking_check_failure"):
        assert sensors[name].default_status == dg.DefaultSensorStatus.RUNNING


# -- metrics -----------------------------------------------------------------------------------------
@contextmanager
def exporter(read):
    """The metrics served from ``read`` on a free port of 127.0.0.1, for the block; the port."""
    port = free_port()
    server, _thread = serve_metrics(read, port, "127.0.0.1")
    try:
        yield port
    finally:
        server.shutdown()


def metrics_text(port: int) -> str:
    return requests.get(f"http://127.0.0.1:{port}/metrics", timeout=5).text


def scrape(port: int) -> dict[tuple[str, frozenset], float]:
    text = metrics_text(port)
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def test_exporter_serves_runs_ages_checks_quarantine_and_serving(platform, tmp_path):
    instance, _runs = platform
    lake = LocalLake(tmp_path / "lake")
    rows = pd.DataFrame({"id": ["1", "2", "3"], "_reason": ["null id"] * 3})
    lake.write_partition("quarantine", "demo_db/tasks", ("date", "2026-01-01"), rows)
    lake.write_partition("quarantine", "demo_db/tasks", ("date", "2026-01-02"), rows.head(2))
    lake.put("quarantine/files/demo_db/events/date=2026-01-01/00000.json", b'{"reason": "not a CSV"}')
    asset_graph = dg.Definitions(assets=ASSETS).resolve_asset_graph()
    with exporter(lambda: read_platform_snapshot(instance, asset_graph, lake)) as port:
        metrics = scrape(port)
        instance.report_runless_asset_event(dg.AssetMaterialization("exploding_asset"))
        again = scrape(port)  # read at each scrape: the new materialization shows

    def value(name, **labels):
        return metrics[(name, frozenset(labels.items()))]

    assert value("maestro_runs", status="SUCCESS") == 1
    assert value("maestro_runs", status="FAILURE") == 2
    assert value("maestro_runs", status="STARTED") == 0
    assert 0 <= value("maestro_asset_last_materialization_age_seconds", asset="fresh_asset") < 120
    assert value("maestro_asset_max_age_seconds", asset="fresh_asset") == 3600
    assert value("maestro_asset_fresh", asset="fresh_asset") == 1
    assert value("maestro_asset_last_materialization_age_seconds", asset="stale_asset") >= 7200
    assert value("maestro_asset_fresh", asset="stale_asset") == 0
    assert not any(
        name == "maestro_asset_fresh" and ("asset", "serving_check_tiny") in labels for name, labels in metrics
    )
    assert (
        value("maestro_asset_check_failing", asset="checked_asset", check="row_count_positive", severity="ERROR") == 1
    )
    assert value("maestro_asset_check_failing", asset="serving_check_tiny", check="latency", severity="ERROR") == 0
    assert value("maestro_quarantine_rows", table="demo_db/tasks") == 5
    assert value("maestro_quarantine_files", table="demo_db/tasks") == 0
    assert value("maestro_quarantine_files", table="demo_db/events") == 1
    assert value("maestro_serving_latency_ms", model="tiny", request="one_row", quantile="0.5") == 1.5
    assert value("maestro_serving_latency_ms", model="tiny", request="one_row", quantile="0.95") == 2.5
    assert value("maestro_serving_latency_ms", model="tiny", request="one_row", quantile="0.99") == 4.0
    assert value("maestro_serving_throughput_rows_per_second", model="tiny", request="hundred_rows") == 9000
    assert value("maestro_metrics_source_up", source="dagster") == 1
    assert value("maestro_metrics_source_up", source="lake") == 1
    assert ("maestro_asset_last_materialization_age_seconds", frozenset({("asset", "exploding_asset")})) not in metrics
    assert ("maestro_asset_last_materialization_age_seconds", frozenset({("asset", "exploding_asset")})) in again


def test_exporter_help_text_and_unreadable_lake(platform, tmp_path):
    instance, _runs = platform
    lake = LocalLake(tmp_path / "lake")
    (tmp_path / "lake" / "quarantine" / "t" / "date=2026-01-01").mkdir(parents=True)
    (tmp_path / "lake" / "quarantine" / "t" / "date=2026-01-01" / "part-0.parquet").write_bytes(b"not parquet")
    with exporter(lambda: read_platform_snapshot(instance, None, lake)) as port:
        text = metrics_text(port)
    assert "# HELP maestro_runs Runs in the Dagster instance, by status." in text
    assert 'maestro_metrics_source_up{source="lake"} 0.0' in text
    assert 'maestro_runs{status="FAILURE"} 2.0' in text  # the instance's figures are still served


def test_grafana_dashboard_charts_every_exported_metric(platform):
    instance, _runs = platform
    with exporter(lambda: read_platform_snapshot(instance, None, None)) as port:
        text = metrics_text(port)
    exported = {line.split()[2] for line in text.splitlines() if line.startswith("# HELP maestro_")}
    assert len(exported) == 10  # every family is described, with or without samples
    dashboard = json.loads((Path(__file__).parents[1] / "deploy" / "grafana" / "maestro.json").read_text())
    variables = {v["name"]: v for v in dashboard["templating"]["list"]}
    assert variables["datasource"]["type"] == "datasource" and variables["datasource"]["query"] == "prometheus"
    panels = dashboard["panels"]
    assert len({p["id"] for p in panels}) == len(panels)
    exprs = " ".join(t["expr"] for p in panels for t in p["targets"])
    assert all(p["datasource"]["uid"] == "${datasource}" for p in panels)
    assert all(t["datasource"]["uid"] == "${datasource}" for p in panels for t in p["targets"])
    assert {name for name in exported if name not in exprs} == set()


def test_metrics_exporter_command_serves_the_configured_platform(maestro_home):
    """`maestro metrics-exporter` wires the code location's instance (DAGSTER_HOME), asset graph and lake."""
    from maestro_assets import cli

    LocalLake(maestro_home / "lake").write_partition(
        "quarantine", "demo_db/users", ("date", "2026-01-01"), pd.DataFrame({"id": ["7"]})
    )
    port = free_port()
    stop = threading.Event()
    args = cli.build_parser().parse_args(["metrics-exporter", "--port", str(port), "--host", "127.0.0.1"])
    exporter = threading.Thread(target=cli.cmd_metrics_exporter, args=(args, stop), daemon=True)
    exporter.start()
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                metrics = scrape(port)
                break
            except requests.ConnectionError:
                assert exporter.is_alive() and time.monotonic() < deadline, "the exporter did not start"
                time.sleep(0.2)
    finally:
        stop.set()
        exporter.join(10)
    assert not exporter.is_alive()  # stopped: the server shut down
    assert metrics[("maestro_quarantine_rows", frozenset({("table", "demo_db/users")}))] == 1
    assert metrics[("maestro_runs", frozenset({("status", "FAILURE")}))] == 0  # a fresh instance
    assert metrics[("maestro_metrics_source_up", frozenset({("source", "dagster")}))] == 1
