"""Extract JSON records from a paginated REST API.

``fetch_pages(source)`` yields one list of records (JSON objects) per page — numbers kept as
their literal text (:class:`~maestro_assets.lib.ingestion.json_text.JsonNumber`), so bronze holds
``19.90`` and ``1e5`` as received — and follows one of four pagination styles:

* ``page``   — ``?page=N&per_page=S`` from ``first_page``; stops on an empty or short page.
* ``offset`` — ``?offset=K&limit=S``; stops on an empty or short page.
* ``cursor`` — ``?cursor=C`` with ``C`` read from the body at ``cursor_path``; stops when the
  cursor is null, missing or ``""``.
* ``link``   — follows RFC 8288 ``Link: <url>; rel="next"`` headers (GitHub style).

``params`` are added to every request, except in the ``link`` style, where they go on the
first request only (the next links carry their own query string). A page size that the API
silently caps below ``page_size`` ends the ``page``/``offset`` styles after one page, so keep
``page_size`` within the API's maximum.

Every request is rate limited (``rate_limit_per_second``), bounded by ``timeout_seconds`` and
retried on 429, 5xx, connection errors, timeouts and bodies that are not valid JSON, with
exponential backoff and jitter, or the server's ``Retry-After``. A 403 or 429 that says the rate
limit is spent — ``Retry-After``, or ``X-RateLimit-Remaining: 0`` with ``X-RateLimit-Reset`` (epoch
seconds), as GitHub sends — waits until then and retries. A server-asked wait is capped at
``max_backoff_seconds``, unless ``max_rate_limit_wait_seconds`` is set: then it is waited in full
up to that bound, and a longer one fails at once with an error saying how long the API asked for
(better than hammering an API that has said no until a given time). Other 4xx answers fail at once.
A page that repeats (same cursor, same next link, same records twice in a row) stops the fetch
with an error rather than looping or duplicating data.

The auth header value (``auth_prefix`` + the value of the environment variable named by
``auth_env``, e.g. ``"Bearer "`` + a token) is read at request time and is never kept, logged or put
in an error message.
"""

from __future__ import annotations

import json
import os
import random
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any, Protocol
from urllib.parse import parse_qsl, urlencode, urljoin, urlsplit, urlunsplit

import pyarrow as pa
import pyarrow.compute as pc
import requests

from ..errors import MaestroError
from ..redact import scrub
from . import json_text

PAGINATION_STYLES = ("page", "offset", "cursor", "link")
# failures of one attempt that a later attempt may not repeat (requests.Timeout is handled first)
_TRANSIENT_EXCEPTIONS = (
    requests.ConnectionError,
    requests.Timeout,
    requests.exceptions.ChunkedEncodingError,
    requests.exceptions.ContentDecodingError,
)
_EXCERPT_CHARS = 120
_MISSING = object()


class RestIngestionError(MaestroError):
    """A REST extraction failed: the message names the source, page, URL and reason."""

    def __init__(self, source: str, reason: str, url: str | None = None, page: int | None = None):
        self.source = source
        self.reason = reason
        self.url = url
        self.page = page
        where = f"REST source {source!r}"
        if page is not None:
            where += f", page {page}"
        if url is not None:
            where += f", GET {url}"
        super().__init__(f"{where}: {reason}")


@dataclass(frozen=True)
class RestSource:
    name: str
    url: str
    pagination: str = "page"
    records_path: str = ""
    page_param: str = "page"
    page_size_param: str = "per_page"
    page_size: int = 100
    first_page: int = 1
    offset_param: str = "offset"
    limit_param: str = "limit"
    cursor_param: str = "cursor"
    cursor_path: str = "next_cursor"
    params: Mapping[str, str] = field(default_factory=dict)
    headers: Mapping[str, str] = field(default_factory=dict)
    auth_header: str = "Authorization"
    auth_env: str | None = None  # the variable's NAME; its value is read per request only
    auth_prefix: str = ""  # put before the variable's value, e.g. "Bearer "
    timeout_seconds: float = 30.0
    max_retries: int = 5
    backoff_seconds: float = 0.5
    max_backoff_seconds: float = 30.0
    rate_limit_per_second: float | None = None
    max_rate_limit_wait_seconds: float | None = None  # None: server-asked waits capped at max_backoff
    max_pages: int = 100_000

    def __post_init__(self) -> None:
        problems = [
            problem
            for check, problem in (
                (
                    self.pagination in PAGINATION_STYLES,
                    f"pagination must be one of {', '.join(PAGINATION_STYLES)}, not {self.pagination!r}",
                ),
                (self.page_size >= 1, f"page_size must be at least 1, not {self.page_size}"),
                (self.max_pages >= 1, f"max_pages must be at least 1, not {self.max_pages}"),
                (self.max_retries >= 0, f"max_retries must be 0 or more, not {self.max_retries}"),
                (self.timeout_seconds > 0, f"timeout_seconds must be positive, not {self.timeout_seconds}"),
                (
                    self.backoff_seconds >= 0 and self.max_backoff_seconds >= 0,
                    "backoff_seconds and max_backoff_seconds must be 0 or more",
                ),
                (
                    self.rate_limit_per_second is None or self.rate_limit_per_second > 0,
                    f"rate_limit_per_second must be positive, not {self.rate_limit_per_second}",
                ),
                (
                    self.max_rate_limit_wait_seconds is None or self.max_rate_limit_wait_seconds >= 0,
                    f"max_rate_limit_wait_seconds must be 0 or more, not {self.max_rate_limit_wait_seconds}",
                ),
            )
            if not check
        ]
        if problems:
            raise RestIngestionError(self.name, "; ".join(problems), scrub(self.url))


@dataclass
class FetchStats:
    requests: int = 0  # HTTP requests sent, retries included
    retries: int = 0
    pages: int = 0  # pages yielded
    records: int = 0  # records yielded
    bytes: int = 0  # response body bytes received, retried responses included
    throttled_seconds: float = 0.0  # slept for the rate limit, Retry-After and backoff


def fetch_pages(
    source: RestSource,
    session: requests.Session | None = None,
    stats: FetchStats | None = None,
    sleep: Callable[[float], Any] = time.sleep,
) -> Iterator[list[dict]]:
    """Yield one list of records per page, following the pagination style."""
    stats = stats if stats is not None else FetchStats()
    client = _Client(source, session or requests.Session(), stats, sleep)
    try:
        for records in _follow(source, client):
            stats.pages += 1
            stats.records += len(records)
            yield records
    finally:
        if session is None:
            client.session.close()


# --- pagination -------------------------------------------------------------------------------


class _Paging(Protocol):
    """One pagination style: the first URL, then each next URL from the page just read."""

    def first_url(self) -> str: ...

    def next_url(self, records: list[dict], body: Any, response: requests.Response) -> str | None:
        """None after the last page; raises _PageProblem on a page that cannot be used."""


class _PageProblem(Exception):
    """A page that cannot be used (wrong shape, or a repeat); becomes a RestIngestionError."""


def _follow(source: RestSource, client: _Client) -> Iterator[list[dict]]:
    paging: _Paging = _PAGING[source.pagination](source)
    url = paging.first_url()
    for page in range(1, source.max_pages + 1):
        body, response = client.get_json(url, page)
        try:
            records = _records_at(source.records_path, body)
            next_url = paging.next_url(records, body, response)
        except _PageProblem as problem:
            raise client.error(str(problem), url, page) from None
        yield records
        if next_url is None:
            return
        url = next_url
    raise client.error(
        f"not fetched: max_pages={source.max_pages} pages were read and the API still offers more",
        url,
        source.max_pages + 1,
    )


class _Numbered:
    """``page`` and ``offset`` styles: fixed-size pages until an empty or short one."""

    def __init__(self, source: RestSource):
        self.source = source
        self.index = 0
        self.previous: list[dict] | None = None

    def first_url(self) -> str:
        return self._url()

    def next_url(self, records: list[dict], body: Any, response: requests.Response) -> str | None:
        if records and records == self.previous:
            raise _PageProblem(
                f"page {self.index + 1} repeats the {len(records)} records of page {self.index} "
                f"(does the API ignore {self._position_param()!r}?); stopped rather than duplicate data"
            )
        if len(records) < self.source.page_size:
            return None
        self.previous = records
        self.index += 1
        return self._url()

    def _position_param(self) -> str:
        return self.source.page_param if self.source.pagination == "page" else self.source.offset_param

    def _url(self) -> str:
        s = self.source
        if s.pagination == "page":
            position = {s.page_param: s.first_page + self.index, s.page_size_param: s.page_size}
        else:
            position = {s.offset_param: self.index * s.page_size, s.limit_param: s.page_size}
        return _with_query(s.url, {**s.params, **position})


class _Cursor:
    """``cursor`` style: the next cursor is in the body at ``cursor_path``."""

    def __init__(self, source: RestSource):
        self.source = source
        self.followed: set[str] = set()

    def first_url(self) -> str:
        return _with_query(self.source.url, self.source.params)

    def next_url(self, records: list[dict], body: Any, response: requests.Response) -> str | None:
        cursor = _dig(body, self.source.cursor_path)
        if cursor is _MISSING or cursor is None or cursor == "":
            return None
        if not isinstance(cursor, (str, int, float)) or isinstance(cursor, bool):
            raise _PageProblem(f"cursor_path {self.source.cursor_path!r} holds {_kind(cursor)}, not a cursor")
        cursor = str(cursor)
        if cursor in self.followed:
            raise _PageProblem(
                f"the next cursor {cursor!r} (at {self.source.cursor_path!r}) was already followed; "
                "stopped rather than loop"
            )
        self.followed.add(cursor)
        return _with_query(self.source.url, {**self.source.params, self.source.cursor_param: cursor})


class _Link:
    """``link`` style: follow ``Link: <url>; rel="next"`` until there is none."""

    def __init__(self, source: RestSource):
        self.source = source
        self.requested: set[str] = set()

    def first_url(self) -> str:
        url = _with_query(self.source.url, self.source.params)
        self.requested.add(url)
        return url

    def next_url(self, records: list[dict], body: Any, response: requests.Response) -> str | None:
        url = _next_link(response)
        if url is None:
            return None
        if url in self.requested:
            raise _PageProblem(f'the rel="next" link {url} was already followed; stopped rather than loop')
        self.requested.add(url)
        return url


_PAGING: dict[str, Callable[[RestSource], _Paging]] = {
    "page": _Numbered,
    "offset": _Numbered,
    "cursor": _Cursor,
    "link": _Link,
}


def _next_link(response: requests.Response) -> str | None:
    for link in response.links.values():
        if "next" in link.get("rel", "").split():
            return urljoin(response.url, link["url"])
    return None


def _records_at(path: str, body: Any) -> list[dict]:
    found = _dig(body, path)
    label = f"records_path {path!r}" if path else "the body (records_path '')"
    if found is _MISSING:
        raise _PageProblem(f"records_path {path!r} is not in the body, which is {_kind(body)}")
    if not isinstance(found, list):
        raise _PageProblem(f"{label} must be a list of objects, found {_kind(found)}")
    for index, record in enumerate(found):
        if not isinstance(record, dict):
            raise _PageProblem(f"record {index} of {label} is {_kind(record)}, not an object")
    return found


def _dig(body: Any, path: str) -> Any:
    """The value at a dotted path of JSON objects, or ``_MISSING``; ``""`` is the body itself."""
    node = body
    for key in path.split(".") if path else ():
        if not isinstance(node, dict) or key not in node:
            return _MISSING
        node = node[key]
    return node


def _kind(value: Any) -> str:
    """A JSON value described for an error message."""
    if isinstance(value, dict):
        keys = sorted(value)
        return f"an object with keys {keys[:10]}{' …' if len(keys) > 10 else ''}"
    if isinstance(value, list):
        return f"a list of {len(value)}"
    if value is None:
        return "null"
    return f"{json_text.kind(value)} {_shorten(json_text.dumps(value))}"


def _with_query(url: str, params: Mapping[str, Any]) -> str:
    """The URL with ``params`` set in its query string (existing values of those keys replaced)."""
    if not params:
        return url
    parts = urlsplit(url)
    query = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if k not in params]
    query += [(k, str(v)) for k, v in params.items()]
    return urlunsplit(parts._replace(query=urlencode(query)))


# --- one request ------------------------------------------------------------------------------


class _Transient(Exception):
    """One attempt failed in a way another attempt may not."""

    def __init__(self, reason: str, retry_after: float | None = None):
        super().__init__(reason)
        self.reason = reason
        self.retry_after = retry_after


class _Client:
    """GETs for one source: rate limit, timeouts, retries, JSON decoding and stats."""

    def __init__(self, source: RestSource, session: requests.Session, stats: FetchStats, sleep: Callable):
        self.source = source
        self.session = session
        self.stats = stats
        self._sleep = sleep
        self._unslept = 0.0  # time an injected sleep was asked for but did not spend (tests)
        self._next_slot: float | None = None

    def get_json(self, url: str, page: int) -> tuple[Any, requests.Response]:
        attempts = self.source.max_retries + 1
        failure: _Transient | None = None
        for attempt in range(attempts):
            if failure is not None:
                self.stats.retries += 1
                self._pause(self._retry_delay(attempt - 1, failure, url, page))
            try:
                return self._attempt(url, page)
            except _Transient as exc:
                failure = exc
        assert failure is not None
        raise self.error(f"gave up after {attempts} attempts; last failure: {failure.reason}", url, page)

    def error(self, reason: str, url: str, page: int) -> RestIngestionError:
        secret = self._auth_value()
        return RestIngestionError(self.source.name, scrub(reason, secret), scrub(url, secret), page)

    def _attempt(self, url: str, page: int) -> tuple[Any, requests.Response]:
        headers = self._headers(url, page)
        self._throttle()
        self.stats.requests += 1
        timeout = self.source.timeout_seconds
        try:
            response = self.session.get(url, headers=headers, timeout=(timeout, timeout))
        except requests.Timeout as exc:
            raise _Transient(f"no response within timeout_seconds={timeout} ({type(exc).__name__})") from exc
        except _TRANSIENT_EXCEPTIONS as exc:
            raise _Transient(f"{type(exc).__name__}: {exc}") from exc
        except requests.RequestException as exc:  # a bad URL, too many redirects…: not worth a retry
            raise self.error(f"request failed (not retried): {type(exc).__name__}: {exc}", url, page) from exc
        self.stats.bytes += len(response.content)
        status = f"HTTP {response.status_code} {response.reason or ''}".rstrip()
        if response.status_code in (403, 429):
            wait = _rate_limit_wait(response.headers)
            if wait is not None:
                raise _Transient(f"{status} (rate limited)", wait)
        if response.status_code == 429 or response.status_code >= 500:
            raise _Transient(status, _retry_after_seconds(response.headers.get("Retry-After")))
        if not 200 <= response.status_code < 300:
            body = _excerpt(response.content.decode("utf-8", "replace"))
            raise self.error(f"{status} (not retried); body: {body}", url, page)
        return _decode_json(response.content), response

    def _headers(self, url: str, page: int) -> dict[str, str]:
        headers = dict(self.source.headers)
        if self.source.auth_env:
            value = self._auth_value()
            if not value:
                raise self.error(f"the environment variable {self.source.auth_env} (auth_env) is not set", url, page)
            headers[self.source.auth_header] = self.source.auth_prefix + value
        return headers

    def _auth_value(self) -> str | None:
        return os.environ.get(self.source.auth_env) if self.source.auth_env else None

    def _retry_delay(self, retry: int, failure: _Transient, url: str, page: int) -> float:
        """The server-asked wait (``Retry-After``, rate-limit reset) if given, else
        ``backoff * 2**retry`` with equal jitter; capped, or bounded by ``max_rate_limit_wait_seconds``."""
        cap = self.source.max_backoff_seconds
        retry_after, bound = failure.retry_after, self.source.max_rate_limit_wait_seconds
        if retry_after is not None and bound is not None:
            if retry_after > bound:
                raise self.error(
                    f"{failure.reason}: the API asks to wait {retry_after:.1f} s, more than "
                    f"max_rate_limit_wait_seconds={bound:g}; not retried",
                    url,
                    page,
                )
            return retry_after
        if retry_after is not None:
            return min(retry_after, cap)
        delay = min(cap, self.source.backoff_seconds * 2**retry)
        return random.uniform(delay / 2, delay)

    def _throttle(self) -> None:
        rate = self.source.rate_limit_per_second
        if rate is None:
            return
        if self._next_slot is not None:
            self._pause(self._next_slot - self._now())
        self._next_slot = self._now() + 1.0 / rate

    def _pause(self, seconds: float) -> None:
        if seconds <= 0:
            return
        started = time.monotonic()
        self._sleep(seconds)
        self._unslept += max(0.0, seconds - (time.monotonic() - started))
        self.stats.throttled_seconds += seconds

    def _now(self) -> float:
        return time.monotonic() + self._unslept


def _decode_json(content: bytes) -> Any:
    try:
        text = content.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise _Transient(f"body is not valid JSON: not UTF-8 at byte {exc.start} of {len(content)}") from exc
    try:
        return json_text.loads(text)
    except json.JSONDecodeError as exc:
        offset = len(text[: exc.pos].encode("utf-8"))
        near = _excerpt(text[max(0, exc.pos - _EXCERPT_CHARS // 2) : exc.pos + _EXCERPT_CHARS // 2])
        raise _Transient(
            f"body is not valid JSON: {exc.msg} at byte {offset} of {len(content)} "
            f"(line {exc.lineno}, column {exc.colno}), near {near}"
        ) from exc


def _rate_limit_wait(headers: Mapping[str, str]) -> float | None:
    """Seconds a 403/429 asks to wait: ``Retry-After``, else the time until ``X-RateLimit-Reset``
    when ``X-RateLimit-Remaining`` is 0; None when the answer is not about the rate limit."""
    retry_after = _retry_after_seconds(headers.get("Retry-After"))
    if retry_after is not None:
        return retry_after
    if headers.get("X-RateLimit-Remaining", "").strip() != "0":
        return None
    try:
        reset = float(headers.get("X-RateLimit-Reset", ""))
    except ValueError:
        return None
    return max(0.0, reset - time.time())


def _retry_after_seconds(value: str | None) -> float | None:
    """``Retry-After`` as seconds from now: delay-seconds or an HTTP-date; None if absent or bad."""
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - datetime.now(UTC)).total_seconds())


def _shorten(text: str) -> str:
    return text if len(text) <= _EXCERPT_CHARS else text[:_EXCERPT_CHARS] + "…"


def _excerpt(text: str) -> str:
    return repr(_shorten(text))


def watermark_stamps(table: pa.Table, watermark: str, where: str) -> pa.ChunkedArray:
    """The watermark field of JSON records as UTC timestamps. A record without one, or with one
    that is not a timestamp, belongs to no partition: an error naming it, never a silent drop."""
    kind = pa.timestamp("us", tz="UTC")
    values = table.column(watermark)
    try:
        stamps = pc.cast(values, kind)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        for index, value in enumerate(values.to_pylist()):
            try:
                pc.cast(pa.array([value], values.type), kind)
            except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
                raise MaestroError(
                    f"{where}: record {index} has {watermark}={value!r}, which is not a "
                    "timestamp (ISO 8601 with a UTC offset expected)"
                ) from None
        raise
    if stamps.null_count:
        first = pc.index(pc.is_null(stamps), True).as_py()
        record = {name: table.column(name)[first].as_py() for name in table.column_names[:8]}
        raise MaestroError(
            f"{where}: {stamps.null_count} record(s) have no {watermark!r} and belong to no daily "
            f"partition; the first is record {first}: {record}"
        )
    return stamps
