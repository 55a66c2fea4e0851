"""fetch_pages against a real HTTP server on 127.0.0.1 that misbehaves on purpose."""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qsl, urlsplit

import pytest

from maestro_assets.lib.errors import MaestroError
from maestro_assets.lib.ingestion import json_text
from maestro_assets.lib.ingestion.files import records_table
from maestro_assets.lib.ingestion.rest import FetchStats, RestIngestionError, RestSource, fetch_pages

pytestmark = pytest.mark.timeout(30)

RECORDS = [{"id": i, "name": f"record-{i}"} for i in range(250)]
FIVE_PAGES = [{"id": i} for i in range(450)]  # 4 pages of 100 and one of 50
AUTH_ENV = "MAESTRO_TEST_REST_TOKEN"
SECRET = "Bearer s3cr3t-token-9f8e7d6c"


# --- the server -------------------------------------------------------------------------------


@dataclass
class Hit:
    target: str  # the request target as sent: path and query
    path: str
    query: dict[str, str]
    headers: dict[str, str]  # lower-case names
    at: float


@dataclass
class Reply:
    body: object = b""  # bytes are sent as they are, anything else as JSON
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0


Responder = Callable[[Hit, int], Reply]  # the int counts the hits on this path, this one included


class FakeApi:
    def __init__(self, base: str):
        self.base = base
        self.routes: dict[str, Responder] = {}
        self.hits: list[Hit] = []
        self.bytes_sent = 0
        self.closing = threading.Event()
        self._lock = threading.Lock()

    def url(self, target: str = "/items") -> str:
        return self.base + target

    def count(self, path: str = "/items") -> int:
        with self._lock:
            return sum(hit.path == path for hit in self.hits)

    def answer(self, hit: Hit) -> Reply:
        with self._lock:
            self.hits.append(hit)
            n = sum(seen.path == hit.path for seen in self.hits)
        responder = self.routes.get(hit.path)
        return responder(hit, n) if responder else Reply({"message": "no such route"}, 404)

    def sent(self, size: int) -> None:
        with self._lock:
            self.bytes_sent += size


class _Handler(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        api: FakeApi = self.server.api
        parts = urlsplit(self.path)
        headers = {name.lower(): value for name, value in self.headers.items()}
        reply = api.answer(Hit(self.path, parts.path, dict(parse_qsl(parts.query)), headers, time.monotonic()))
        if reply.delay:
            api.closing.wait(reply.delay)
        body = reply.body if isinstance(reply.body, bytes) else json.dumps(reply.body).encode()
        self.send_response(reply.status)
        for name, value in {"Content-Type": "application/json", **reply.headers}.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        api.sent(len(body))  # counted before the client can have it
        self.wfile.write(body)

    def log_message(self, *args) -> None:
        pass


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False

    def handle_error(self, request, client_address) -> None:
        pass  # a client that timed out has closed the socket the slow answer is written to


@pytest.fixture
def api():
    server = _Server(("127.0.0.1", 0), _Handler)
    server.api = FakeApi(f"http://127.0.0.1:{server.server_address[1]}")
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield server.api
    finally:
        server.api.closing.set()
        server.shutdown()
        server.server_close()
        thread.join(5)


# --- well-behaved pagination ------------------------------------------------------------------


def page_style(records: list[dict]) -> Responder:
    def respond(hit: Hit, n: int) -> Reply:
        page, size = int(hit.query["page"]), int(hit.query["per_page"])
        return Reply({"data": records[(page - 1) * size : page * size]})

    return respond


def offset_style(records: list[dict]) -> Responder:
    def respond(hit: Hit, n: int) -> Reply:
        offset, limit = int(hit.query["offset"]), int(hit.query["limit"])
        return Reply({"result": {"items": records[offset : offset + limit]}})

    return respond


def cursor_style(records: list[dict], size: int = 100) -> Responder:
    def respond(hit: Hit, n: int) -> Reply:
        start = int(hit.query.get("cursor", "c0")[1:])
        end = start + size
        return Reply({"items": records[start:end], "meta": {"next": f"c{end}" if end < len(records) else None}})

    return respond


def link_style(records: list[dict], size: int = 100) -> Responder:
    def respond(hit: Hit, n: int) -> Reply:
        page = int(hit.query.get("page", "1"))
        here = f"http://{hit.headers['host']}{hit.path}"
        links = [f'<{here}?page={page + 1}>; rel="next"'] if page * size < len(records) else []
        links += [f'<{here}?page={page - 1}>; rel="prev"'] if page > 1 else []
        return Reply(records[(page - 1) * size : page * size], headers={"Link": ", ".join(links)} if links else {})

    return respond


STYLES = {
    "page": (page_style, {"records_path": "data"}),
    "offset": (offset_style, {"records_path": "result.items"}),
    "cursor": (cursor_style, {"records_path": "items", "cursor_path": "meta.next"}),
    "link": (link_style, {"records_path": ""}),
}


def fail_first(times: int, failure: Reply, then: Responder) -> Responder:
    return lambda hit, n: failure if n <= times else then(hit, n)


# --- running a fetch --------------------------------------------------------------------------


def source(api: FakeApi, **overrides) -> RestSource:
    settings = {
        "name": "test-api",
        "url": api.url(),
        "records_path": "data",
        "timeout_seconds": 5.0,
        "max_retries": 3,
        "backoff_seconds": 0.01,
    }
    return RestSource(**{**settings, **overrides})


@dataclass
class Outcome:
    pages: list[list[dict]] = field(default_factory=list)
    stats: FetchStats = field(default_factory=FetchStats)
    sleeps: list[float] = field(default_factory=list)
    error: RestIngestionError | None = None

    @property
    def records(self) -> list[dict]:
        """The records as plain Python JSON values (numbers arrive as their literal text)."""
        return json.loads(json_text.dumps([record for page in self.pages for record in page]))

    @property
    def message(self) -> str:
        assert self.error is not None, "the fetch was expected to fail"
        return str(self.error)


def run(rest_source: RestSource, sleep: Callable[[float], object] | None = None) -> Outcome:
    """Fetch every page; the fake sleep (the default) only records what it was asked to sleep."""
    outcome = Outcome()
    try:
        for page in fetch_pages(rest_source, stats=outcome.stats, sleep=sleep or outcome.sleeps.append):
            outcome.pages.append(page)
    except RestIngestionError as exc:
        outcome.error = exc
    return outcome


# --- tests ------------------------------------------------------------------------------------


@pytest.mark.parametrize("style", list(STYLES))
def test_every_pagination_style_yields_each_record_once_in_order(api, style):
    responder, options = STYLES[style]
    api.routes["/items"] = responder(RECORDS)

    out = run(source(api, pagination=style, params={"state": "open"}, **options))

    assert out.error is None
    assert out.records == RECORDS
    assert [len(page) for page in out.pages] == [100, 100, 50]
    assert api.count() == 3
    assert out.stats == FetchStats(
        requests=3, retries=0, pages=3, records=250, bytes=api.bytes_sent, throttled_seconds=0.0
    )
    # extra params go on every request, except that next links carry their own query
    assert [hit.query.get("state") for hit in api.hits] == (["open", None, None] if style == "link" else ["open"] * 3)


@pytest.mark.parametrize("style", ["page", "offset"])
def test_numbered_styles_stop_on_an_empty_page(api, style):
    responder, options = STYLES[style]
    api.routes["/items"] = responder(RECORDS[:200])

    out = run(source(api, pagination=style, **options))

    assert out.error is None
    assert out.records == RECORDS[:200]
    assert [len(page) for page in out.pages] == [100, 100, 0]
    assert api.count() == 3


def test_429_with_retry_after_seconds_is_honoured(api):
    api.routes["/items"] = fail_first(
        1, Reply({"message": "slow down"}, 429, {"Retry-After": "2"}), page_style(RECORDS[:10])
    )

    out = run(source(api))

    assert out.records == RECORDS[:10]
    assert out.sleeps == [2.0]
    assert api.count() == 2
    assert (out.stats.requests, out.stats.retries, out.stats.throttled_seconds) == (2, 1, 2.0)


def http_date_in(seconds: float) -> str:
    return format_datetime(datetime.now(UTC) + timedelta(seconds=seconds), usegmt=True)


@pytest.mark.parametrize(
    "retry_after, max_backoff, low, high",
    [
        (lambda: http_date_in(3), 30.0, 1.0, 3.0),  # computed when the test runs, not at collection
        (lambda: "120", 0.5, 0.5, 0.5),
    ],
    ids=["http-date", "capped"],
)
def test_retry_after_http_date_and_cap(api, retry_after, max_backoff, low, high):
    retry_after = retry_after()
    api.routes["/items"] = fail_first(1, Reply(b"", 429, {"Retry-After": retry_after}), page_style(RECORDS[:10]))

    out = run(source(api, max_backoff_seconds=max_backoff))

    assert out.records == RECORDS[:10]
    assert len(out.sleeps) == 1 and low <= out.sleeps[0] <= high


@pytest.mark.parametrize("status", [403, 429])
def test_spent_rate_limit_waits_until_the_reset(api, status):
    reset = time.time() + 40  # beyond max_backoff_seconds: a reset is waited in full when bounded
    spent = Reply(
        {"message": "API rate limit exceeded"},
        status,
        {"X-RateLimit-Remaining": "0", "X-RateLimit-Reset": f"{reset:.0f}"},
    )
    api.routes["/items"] = fail_first(1, spent, page_style(RECORDS[:10]))

    out = run(source(api, max_backoff_seconds=5, max_rate_limit_wait_seconds=60))

    assert out.records == RECORDS[:10]
    assert len(out.sleeps) == 1 and 38 <= out.sleeps[0] <= 41
    assert (out.stats.requests, out.stats.retries) == (2, 1)


def test_rate_limit_wait_beyond_the_bound_fails_at_once(api):
    api.routes["/items"] = fail_first(1, Reply(b"", 403, {"Retry-After": "120"}), page_style(RECORDS[:10]))

    out = run(source(api, max_rate_limit_wait_seconds=30))

    assert out.sleeps == [] and api.count() == 1
    assert "HTTP 403 Forbidden (rate limited): the API asks to wait 120.0 s" in out.message
    assert "max_rate_limit_wait_seconds=30" in out.message


def test_a_403_that_is_not_about_the_rate_limit_is_not_retried(api):
    refused = Reply({"message": "forbidden"}, 403, {"X-RateLimit-Remaining": "4999", "X-RateLimit-Reset": "1"})
    api.routes["/items"] = fail_first(1, refused, page_style(RECORDS[:10]))

    out = run(source(api, max_rate_limit_wait_seconds=30))

    assert out.sleeps == [] and api.count() == 1 and "HTTP 403 Forbidden (not retried)" in out.message


def test_burst_of_500s_backs_off_exponentially_with_jitter(api):
    api.routes["/items"] = fail_first(3, Reply(b"internal error", 500), page_style(RECORDS[:10]))

    out = run(source(api, max_retries=5, backoff_seconds=0.1))

    assert out.records == RECORDS[:10]
    assert api.count() == 4
    assert (out.stats.requests, out.stats.retries) == (4, 3)
    assert len(out.sleeps) == 3
    for retry, slept in enumerate(out.sleeps):
        assert 0.1 * 2**retry / 2 <= slept <= 0.1 * 2**retry
    assert out.stats.throttled_seconds == pytest.approx(sum(out.sleeps))


def test_backoff_really_sleeps(api):
    api.routes["/items"] = fail_first(3, Reply(b"", 502), page_style(RECORDS[:10]))

    started = time.monotonic()
    out = run(source(api, backoff_seconds=0.05), sleep=time.sleep)
    elapsed = time.monotonic() - started

    assert out.records == RECORDS[:10]
    assert out.stats.retries == 3
    assert 0.025 + 0.05 + 0.1 <= out.stats.throttled_seconds <= 0.05 + 0.1 + 0.2
    assert out.stats.throttled_seconds <= elapsed < 3.0


def test_5xx_until_retries_run_out_names_the_attempts(api):
    api.routes["/items"] = lambda hit, n: Reply(b"down", 503)

    out = run(source(api, max_retries=2))

    assert api.count() == 3
    assert out.stats.retries == 2
    assert "gave up after 3 attempts" in out.message and "HTTP 503" in out.message
    assert "'test-api'" in out.message and "page 1" in out.message
    assert api.url("/items?page=1&per_page=100") in out.message


def test_a_body_truncated_once_is_retried(api):
    whole = json.dumps({"data": RECORDS[:10]}).encode()
    api.routes["/items"] = fail_first(1, Reply(whole[:40]), page_style(RECORDS[:10]))

    out = run(source(api))

    assert out.records == RECORDS[:10]
    assert api.count() == 2 and out.stats.retries == 1


def test_a_body_always_truncated_is_an_error_with_the_position(api):
    truncated = json.dumps({"data": RECORDS[:10]}).encode()[:40]
    api.routes["/items"] = lambda hit, n: Reply(truncated)
    with pytest.raises(json.JSONDecodeError) as bad:
        json.loads(truncated)

    out = run(source(api, max_retries=2))

    assert api.count() == 3
    assert "gave up after 3 attempts" in out.message
    assert f"body is not valid JSON: {bad.value.msg} at byte {bad.value.pos} of 40" in out.message
    assert out.pages == []


@pytest.mark.parametrize(
    "body, expected",
    [
        ({"data": {"id": 1}}, "records_path 'data' must be a list of objects, found an object with keys ['id']"),
        ({"data": [1, 2]}, "record 0 of records_path 'data' is a number 1, not an object"),
        ({"items": []}, "records_path 'data' is not in the body, which is an object with keys ['items']"),
    ],
)
def test_records_must_be_a_list_of_objects(api, body, expected):
    api.routes["/items"] = lambda hit, n: Reply(body)

    out = run(source(api))

    assert expected in out.message
    assert api.count() == 1 and out.stats.retries == 0


def test_a_cursor_that_repeats_stops_with_an_error(api):
    api.routes["/items"] = lambda hit, n: Reply({"data": [{"id": n}], "next_cursor": "abc"})

    out = run(source(api, pagination="cursor"))

    assert "the next cursor 'abc'" in out.message and "already followed" in out.message
    assert "page 2" in out.message
    assert out.records == [{"id": 1}]
    assert api.count() == 2


def test_a_next_link_to_itself_stops_with_an_error(api):
    def respond(hit: Hit, n: int) -> Reply:
        return Reply([{"id": n}], headers={"Link": f'<http://{hit.headers["host"]}{hit.target}>; rel="next"'})

    api.routes["/items"] = respond

    out = run(source(api, pagination="link", records_path=""))

    assert f'the rel="next" link {api.url()} was already followed' in out.message
    assert out.pages == []
    assert api.count() == 1


@pytest.mark.parametrize("style, param", [("page", "page"), ("offset", "offset")])
def test_a_page_that_repeats_stops_with_an_error(api, style, param):
    api.routes["/items"] = lambda hit, n: Reply({"data": RECORDS[:100]})  # ignores page and offset

    out = run(source(api, pagination=style))

    assert f"page 2 repeats the 100 records of page 1 (does the API ignore '{param}'?)" in out.message
    assert out.records == RECORDS[:100]
    assert api.count() == 2


def test_a_slow_endpoint_times_out_and_is_retried(api):
    api.routes["/items"] = lambda hit, n: Reply({"data": []}, delay=1.0)

    started = time.monotonic()
    out = run(source(api, timeout_seconds=0.2, max_retries=1))
    elapsed = time.monotonic() - started

    assert "gave up after 2 attempts" in out.message and "no response within timeout_seconds=0.2" in out.message
    assert api.count() == 2 and out.stats.retries == 1
    assert elapsed < 0.9  # two attempts of 0.2 s, not of 1 s


def test_404_fails_at_once_without_retry(api):
    api.routes["/items"] = lambda hit, n: (
        Reply({"data": RECORDS[:100]}) if hit.query["page"] == "1" else Reply({"message": "Not Found"}, 404)
    )

    out = run(source(api))

    assert out.records == RECORDS[:100]
    assert "HTTP 404 Not Found (not retried)" in out.message and '"message": "Not Found"' in out.message
    assert "'test-api'" in out.message and "page 2" in out.message
    assert api.url("/items?page=2&per_page=100") in out.message
    assert api.count() == 2 and out.stats.retries == 0 and out.sleeps == []


def guarded(hit: Hit, n: int) -> Reply:
    """401 unless the right token comes; the 401 body echoes what came, as careless APIs do."""
    token = hit.headers.get("authorization")
    if token != SECRET:
        return Reply({"message": f"bad credentials: {token}"}, 401)
    return Reply({"data": RECORDS[:3]})


def test_auth_env_provides_the_auth_header(api, monkeypatch):
    monkeypatch.setenv(AUTH_ENV, SECRET)
    api.routes["/items"] = guarded
    rest_source = source(api, auth_env=AUTH_ENV)

    out = run(rest_source)

    assert out.error is None and out.records == RECORDS[:3]
    assert [hit.headers["authorization"] for hit in api.hits] == [SECRET]
    assert SECRET not in repr(rest_source) and AUTH_ENV in repr(rest_source)


@pytest.mark.parametrize("token", [None, "Bearer wrong-token-1234"], ids=["no-header", "wrong-token"])
def test_missing_or_wrong_token_is_a_401_without_retry_or_leak(api, monkeypatch, token):
    api.routes["/items"] = guarded
    if token:
        monkeypatch.setenv(AUTH_ENV, token)
    rest_source = source(api, auth_env=AUTH_ENV if token else None)

    out = run(rest_source)

    assert "HTTP 401 Unauthorized (not retried)" in out.message
    assert api.count() == 1 and out.stats.retries == 0
    if token:
        assert token not in out.message and "bad credentials: ***" in out.message
        assert token not in repr(rest_source)


def test_the_auth_value_never_appears_in_errors(api, monkeypatch):
    monkeypatch.setenv(AUTH_ENV, SECRET)
    api.routes["/items"] = lambda hit, n: Reply({"message": f"{hit.headers['authorization']} may not"}, 403)

    out = run(source(api, auth_env=AUTH_ENV))

    assert "HTTP 403 Forbidden" in out.message and "*** may not" in out.message
    assert SECRET not in out.message and SECRET not in repr(out.error.args)


def test_an_unset_auth_variable_fails_before_any_request(api, monkeypatch):
    monkeypatch.delenv(AUTH_ENV, raising=False)
    api.routes["/items"] = guarded

    out = run(source(api, auth_env=AUTH_ENV))

    assert f"the environment variable {AUTH_ENV} (auth_env) is not set" in out.message
    assert api.count() == 0


def test_rate_limit_spaces_requests_in_real_time(api):
    api.routes["/items"] = page_style(FIVE_PAGES)

    started = time.monotonic()
    out = run(source(api, rate_limit_per_second=20), sleep=time.sleep)
    elapsed = time.monotonic() - started

    assert out.records == FIVE_PAGES
    assert api.count() == 5
    assert elapsed >= (5 - 1) / 20
    gaps = [later.at - earlier.at for earlier, later in zip(api.hits, api.hits[1:])]
    assert min(gaps) >= 0.04


def test_rate_limit_with_an_injected_sleep(api):
    api.routes["/items"] = page_style(FIVE_PAGES)

    started = time.monotonic()
    out = run(source(api, rate_limit_per_second=20))
    elapsed = time.monotonic() - started

    assert api.count() == 5
    assert elapsed + sum(out.sleeps) >= (5 - 1) / 20 - 1e-6  # real time plus the time it was told to sleep
    assert sum(out.sleeps) <= (5 - 1) / 20 + 1e-6
    assert out.stats.throttled_seconds == pytest.approx(sum(out.sleeps))


def test_numbers_reach_bronze_as_the_literal_text_the_api_sent(api):
    body = b'{"data": [{"id": 1, "amount": 19.90, "big": 1e400, "meta": {"ratio": 1e5, "list": [0.10, -0]}}]}'
    api.routes["/items"] = lambda hit, n: Reply(body)

    out = run(source(api))

    assert out.error is None
    table = records_table([record for page in out.pages for record in page])
    assert table.to_pylist() == [
        {"id": "1", "amount": "19.90", "big": "1e400", "meta": '{"ratio": 1e5, "list": [0.10, -0]}'}
    ]


def test_max_pages_stops_an_endless_api(api):
    api.routes["/items"] = lambda hit, n: Reply({"data": [{"id": n}], "next_cursor": f"c{n}"})

    out = run(source(api, pagination="cursor", max_pages=3))

    assert out.records == [{"id": 1}, {"id": 2}, {"id": 3}]
    assert "max_pages=3" in out.message and "page 4" in out.message and "cursor=c3" in out.message
    assert api.count() == 3


def test_a_refused_connection_is_retried_then_named():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # nothing listens once the socket is closed

    out = run(RestSource(name="gone", url=f"http://127.0.0.1:{port}/items", max_retries=2, backoff_seconds=0.01))

    assert "gave up after 3 attempts" in out.message and "ConnectionError" in out.message
    assert f"http://127.0.0.1:{port}/items?page=1&per_page=100" in out.message
    assert (out.stats.requests, out.stats.retries, len(out.sleeps)) == (3, 2, 2)


@pytest.mark.parametrize(
    "overrides, expected",
    [
        ({"pagination": "scroll"}, "pagination must be one of page, offset, cursor, link, not 'scroll'"),
        ({"page_size": 0}, "page_size must be at least 1, not 0"),
        ({"rate_limit_per_second": 0}, "rate_limit_per_second must be positive"),
    ],
)
def test_an_invalid_source_is_refused(overrides, expected):
    with pytest.raises(RestIngestionError, match="REST source 'bad'") as refused:
        RestSource(name="bad", url="https://api.example.com/items", **overrides)
    assert expected in str(refused.value)
    assert isinstance(refused.value, MaestroError)


def test_a_url_requests_cannot_use_fails_without_retry():
    out = run(RestSource(name="typo", url="htp://127.0.0.1/items"))

    assert "request failed (not retried): InvalidSchema" in out.message
    assert (out.stats.requests, out.stats.retries, out.sleeps) == (1, 0, [])
