"""Alerts: what failed, as a Slack-compatible message, POSTed to a webhook (no Dagster here).

``defs/alerts`` turns a failed run or a failed blocking asset check into a :class:`RunFailure` or a
:class:`CheckFailure` (plain values); this module makes the message and sends it:

* the payload is Slack's incoming-webhook JSON — ``text`` (the one-line summary every client shows,
  also the fallback of a notification) and ``blocks`` (the same, laid out) — naming the run, the
  job, the failed step or asset, the error's first line and a link to the run in the Dagster UI
  (``MAESTRO_UI_URL``, default ``http://localhost:3000``, then ``/runs/<run id>``);
* every text that comes from an error or from metadata is redacted first (:func:`~..redact.scrub`:
  URL passwords, and the secret values Maestro is configured with);
* :func:`send_alert` POSTs it to ``MAESTRO_ALERT_WEBHOOK_URL`` with a timeout, trying again a few
  times (backing off) on a connection error, a timeout or a 5xx; a 4xx is not retried (the request
  is wrong, sending it again changes nothing). Without a URL nothing is sent and that is logged once
  per process. A webhook that cannot be reached never raises: an alert must not fail what it reports.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from urllib.parse import urlsplit

import requests

from .. import settings
from ..redact import scrub, url_password

LOG = logging.getLogger(__name__)
MAX_LINE = 300  # characters of an error line or a metadata value kept in a message
TIMEOUT_SECONDS = 5.0
ATTEMPTS = 3
BACKOFF_SECONDS = 1.0
_SECRET_VARIABLES = ("AWS_SECRET_ACCESS_KEY", "PGPASSWORD")
_warned_no_url = False


@dataclass(frozen=True)
class RunFailure:
    """A run that failed: its steps that failed, the assets it planned and did not materialize
    (those steps' assets, and those downstream of them that were skipped) and the error."""

    run_id: str
    job: str
    error: str
    failed_steps: Sequence[str] = ()
    assets_not_materialized: Sequence[str] = ()
    will_retry: bool = False  # the instance re-runs it (run_retries): not yet someone's to fix


@dataclass(frozen=True)
class CheckFailure:
    """A blocking asset check that did not pass."""

    run_id: str
    job: str
    asset: str
    check: str
    severity: str
    description: str | None = None
    metadata: Mapping[str, str] = field(default_factory=dict)


def known_secrets() -> list[str]:
    """The secret values this process is configured with, which no alert may show."""
    urls = [settings.warehouse_url(), settings.mlflow_tracking_uri(), settings.alert_webhook_url() or ""]
    secrets = [url_password(url) for url in urls if url]
    secrets += [os.environ.get(name) for name in _SECRET_VARIABLES]
    webhook = settings.alert_webhook_url()
    if webhook:  # a Slack webhook URL is itself the credential: it never appears in a message
        secrets.append(webhook)
    return [secret for secret in secrets if secret and len(secret) >= 4]


def redacted(text: str | None) -> str:
    return scrub(text or "", *known_secrets())


def first_line(text: str | None) -> str:
    """The first non-empty line of ``text``, redacted and at most :data:`MAX_LINE` characters."""
    lines = [line.strip() for line in redacted(text).splitlines() if line.strip()]
    line = lines[0] if lines else "(no error message)"
    return line if len(line) <= MAX_LINE else line[: MAX_LINE - 1] + "…"


def run_link(run_id: str, ui_url: str | None = None) -> str:
    return f"{(ui_url or settings.ui_url()).rstrip('/')}/runs/{run_id}"


def _section(markdown: str) -> dict:
    return {"type": "section", "text": {"type": "mrkdwn", "text": markdown}}


def _payload(title: str, summary: str, fields: list[tuple[str, str]], link: str) -> dict:
    return {
        "text": f"{title}: {summary} — {link}",
        "blocks": [
            {"type": "header", "text": {"type": "plain_text", "text": title}},
            _section(summary),
            {"type": "section", "fields": [{"type": "mrkdwn", "text": f"*{k}*\n{v}"} for k, v in fields]},
            _section(f"<{link}|Open the run in the Dagster UI>"),
        ],
    }


def run_failure_payload(failure: RunFailure, ui_url: str | None = None) -> dict:
    """The message for a failed run: run id, job, failed steps, the error's first line, the link."""
    error = first_line(failure.error)
    steps = ", ".join(failure.failed_steps) or "(no step failed: the run itself did)"
    link = run_link(failure.run_id, ui_url)
    fields = [("Run", f"`{failure.run_id}`"), ("Job", failure.job), ("Failed steps", steps)]
    if failure.assets_not_materialized:
        fields.append(("Assets not materialized", ", ".join(failure.assets_not_materialized)))
    retry = " — the instance re-runs it from the failure" if failure.will_retry else ""
    if failure.will_retry:
        fields.append(("Next", "re-run from the failure (run retries); a second failure is alerted too"))
    return _payload(
        f"Maestro run failed: {failure.job}",
        f"Run `{failure.run_id}` of job `{failure.job}` failed in {steps}: {error}{retry}",
        [*fields, ("Error", error)],
        link,
    )


def metadata_summary(metadata: Mapping[str, str], limit: int = 8) -> str:
    """``key: value`` lines of the first ``limit`` entries, each value redacted and shortened."""
    lines = [f"{key}: {first_line(str(value))}" for key, value in list(metadata.items())[:limit]]
    if len(metadata) > limit:
        lines.append(f"… and {len(metadata) - limit} more")
    return "\n".join(lines) or "(no metadata)"


def check_failure_payload(failure: CheckFailure, ui_url: str | None = None) -> dict:
    """The message for a failed blocking check: check, asset, severity, its metadata, the link."""
    link = run_link(failure.run_id, ui_url)
    description = first_line(failure.description) if failure.description else ""
    summary = (
        f"Blocking check `{failure.check}` on `{failure.asset}` failed ({failure.severity}) in run `{failure.run_id}`"
    )
    fields = [("Check", failure.check), ("Asset", failure.asset), ("Severity", failure.severity), ("Job", failure.job)]
    payload = _payload(
        f"Maestro check failed: {failure.check}", summary + (f": {description}" if description else ""), fields, link
    )
    payload["blocks"].insert(3, _section(f"*Metadata*\n```{metadata_summary(failure.metadata)}```"))
    return payload


def send_alert(
    payload: dict,
    url: str | None = None,
    *,
    timeout: float = TIMEOUT_SECONDS,
    attempts: int = ATTEMPTS,
    backoff: float = BACKOFF_SECONDS,
    log: logging.Logger | None = None,
) -> bool:
    """POST ``payload`` to ``url`` (default ``MAESTRO_ALERT_WEBHOOK_URL``); whether it was accepted.

    A connection error, a timeout or a 5xx is tried again up to ``attempts`` times in all, waiting
    ``backoff``, then twice that, …; then the alert is given up with a logged error. Never raises."""
    global _warned_no_url
    log = log or LOG
    url = url or settings.alert_webhook_url()
    if not url:
        if not _warned_no_url:
            log.info(f"{settings.ENV_ALERT_WEBHOOK_URL} is not set: alerts are not sent")
            _warned_no_url = True
        return False
    shown = f"the webhook at {urlsplit(url).hostname}"  # its path is the credential of a Slack webhook
    problem = ""
    for attempt in range(1, attempts + 1):
        try:
            response = requests.post(url, json=payload, timeout=timeout)
        except (requests.ConnectionError, requests.Timeout) as exc:
            problem = f"{type(exc).__name__}: {first_line(str(exc))}"
        else:
            if response.status_code < 400:
                return True
            problem = f"HTTP {response.status_code}: {first_line(response.text)}"
            if response.status_code < 500:
                log.error(f"alert rejected by {shown} ({problem}); not retried")
                return False
        if attempt < attempts:
            log.warning(f"alert to {shown} failed (attempt {attempt}/{attempts}, {problem}); trying again")
            time.sleep(backoff * 2 ** (attempt - 1))
    log.error(f"alert to {shown} given up after {attempts} attempts: {problem}")
    return False
