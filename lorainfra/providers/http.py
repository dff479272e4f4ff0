"""HTTP plumbing for the Fireworks REST API: one httpx.AsyncClient, retries, rate limit, error envelopes, paging."""

from __future__ import annotations

import asyncio
import dataclasses
import email.utils
import json
import logging
import math
import random
import ssl
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any, Literal, TypedDict, TypeVar

import httpcore
import httpx

from lorainfra import __version__
from lorainfra.config.model import DEFAULT_MAX_RPS
from lorainfra.config.settings import clean_api_key
from lorainfra.errors import ApiError, LorainfraError, ProtocolError, TransportError, redact
from lorainfra.providers.listing import follow_token
from lorainfra.providers.streams import AsyncioBackend

PAGE_SIZE = 200
RETRYABLE_STATUS = frozenset({408, 429, 500, 502, 503, 504})
T = TypeVar("T")


@dataclass(frozen=True)
class RetryPolicy:
    """Which failures are retried, how often, and how long to wait between tries."""

    max_attempts: int | None = None  # None: as many as fit in the deadline
    base_delay: float = 0.25
    max_delay: float = 8.0
    deadline: float = 120.0  # seconds per operation (one logical call, all attempts and waits)
    unreachable_deadline: float = 10.0  # connect failures before any answer from the endpoint: give up sooner


MAX_CONNECTIONS = 32  # connections at once (128 requests/s at 250 ms, above the 100/s account quota); more wait
# in HttpClient, not in httpx: httpcore checks every pooled connection on each request, so its cost grows with it


@dataclass(frozen=True)
class HttpLimits:
    """Bounds on one request: its whole duration, the size of its answer, and the pages of one listing."""

    request_timeout: float = 60.0  # seconds for one request, connect to last byte
    max_body_bytes: int = 16 * 1024 * 1024  # a page of 200 objects is well under 1 MiB
    max_pages: int = 500  # 100,000 objects at 200 a page


class RateLimiter:
    """A token bucket bounding the request rate (requests per second)."""

    def __init__(self, rate: float, *, clock: Callable[[], float] = time.monotonic) -> None:
        self.rate = rate
        self._clock = clock
        self._tokens = rate
        self._last = clock()
        self._lock = asyncio.Lock()

    async def acquire(self) -> None:
        if self.rate <= 0:
            return
        async with self._lock:
            while True:
                now = self._clock()
                self._tokens = min(self.rate, self._tokens + (now - self._last) * self.rate)
                self._last = now
                if self._tokens >= 1:
                    self._tokens -= 1
                    return
                await asyncio.sleep((1 - self._tokens) / self.rate)

    def busy(self) -> bool:
        """Whether a request is waiting for its turn (a later one would queue behind it)."""
        return self.rate > 0 and self._lock.locked()


Expect = Literal["object", "page", "any"]  # a resource with a name, a list page, or any JSON object (or nothing)


def error_from(status: int, content: bytes, *, method: str, path: str, reason: str = "",
               secrets: tuple[str, ...] = ()) -> ApiError:
    """Read either error envelope: ``{code, message, details}`` or ``{"error": {...}}`` (secrets redacted)."""
    code, message = 0, ""
    details: list[object] = []
    text = redact(content.decode("utf-8", errors="replace"), secrets)
    try:
        body: Any = json.loads(text)
    except ValueError:
        body = None
    if isinstance(body, dict):
        inner: dict[str, Any] = body["error"] if isinstance(body.get("error"), dict) else body
        raw_code = inner.get("code", 0)
        code = raw_code if isinstance(raw_code, int) else 0
        message = str(inner.get("message", "") or "")
        details = inner.get("details") or []
        if not message and isinstance(body.get("error"), str):
            message = body["error"]
    if not message:
        message = " ".join(text.split())[:300] or reason
    return ApiError(status=status, code=code, message=message, method=method, path=path,
                    details=list(details) if isinstance(details, list) else [])


def retry_after(headers: httpx.Headers, *, now: Callable[[], float] = time.time) -> float | None:
    """Seconds the server asked us to wait (``retry-after-ms``, or ``Retry-After`` in seconds or as an HTTP date)."""
    value = headers.get("retry-after-ms")
    if value:
        try:
            return _positive(float(value) / 1000)
        except ValueError:
            pass
    value = headers.get("retry-after")
    if not value:
        return None
    try:
        return _positive(float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    return _positive(when.timestamp() - now())


def _positive(seconds: float) -> float | None:
    return seconds if math.isfinite(seconds) and seconds > 0 else None


class _TooLarge(Exception):
    pass


class _ConnectFailed(TransportError):
    """No connection could be made (refused, no route, connect timeout)."""


@dataclass
class _Progress:
    """How far one request got, for saying what timed out."""

    headers: bool = False
    received: int = 0


class ApiTransport(httpx.AsyncHTTPTransport):
    """httpx's transport over one connection (a lane of ``HttpClient``) opened by ``AsyncioBackend``.

    httpx's own ``__init__`` builds a pool on its default backend; this builds the same pool (one connection,
    kept alive as httpx's default limits say) on ours. httpx's request handling, exception mapping and
    closing are inherited unchanged. Proxies from the environment are httpx's mounts, next to this transport.
    """

    def __init__(self, ssl_context: ssl.SSLContext) -> None:  # not super's: it would build a pool of its own
        self._pool = httpcore.AsyncConnectionPool(
            ssl_context=ssl_context, max_connections=1, max_keepalive_connections=1,
            keepalive_expiry=httpx.Limits().keepalive_expiry, network_backend=AsyncioBackend())


class HttpOptions(TypedDict, total=False):
    """HttpClient's keyword arguments besides ``api_key`` and ``base_url`` (what a provider passes through
    unchanged); a unit test keeps it equal to the constructor's."""

    transport: httpx.AsyncBaseTransport | None
    retry: RetryPolicy | None
    max_rps: float
    timeout: float
    sleep: Callable[[float], Awaitable[None]]
    rng: random.Random | None
    logger: logging.Logger | None
    limits: HttpLimits | None
    clock: Callable[[], float]


class HttpClient:
    """One logical call with retries (bounded by the operation deadline), a rate limit and a deadline per request.

    Every message it builds has the API key and URL passwords redacted; it counts the requests sent.
    """

    def __init__(
        self,
        *,
        api_key: str,
        base_url: str,
        transport: httpx.AsyncBaseTransport | None = None,
        retry: RetryPolicy | None = None,
        max_rps: float = DEFAULT_MAX_RPS,
        timeout: float = 60.0,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        rng: random.Random | None = None,
        logger: logging.Logger | None = None,
        limits: HttpLimits | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._limits = limits or HttpLimits(request_timeout=timeout)
        self._clock = clock
        self._retry = retry or RetryPolicy()
        self._limiter = RateLimiter(max_rps)
        # a request waits here for a free connection: httpcore's own queue costs O(queued x connections)
        # per change, quadratic when a fleet's polls and deletes are all waiting at once
        self._connections = asyncio.Semaphore(MAX_CONNECTIONS)
        self._sleep = sleep
        self._rng = rng or random.Random()
        self._log = logger or logging.getLogger("lorainfra.http")
        self._secrets = (api_key, api_key.strip())
        api_key = clean_api_key(api_key, "the API key")
        self.requests = 0
        self._base_url = redact(base_url.rstrip("/"))
        self._reached = False  # whether the endpoint ever answered this client
        per_request = self._limits.request_timeout
        headers = {"Authorization": f"Bearer {api_key}", "User-Agent": f"lorainfra/{__version__}",
                   "Accept": "application/json"}
        ssl_context = httpx.create_ssl_context() if transport is None else None  # built once, shared by the lanes

        def lane() -> httpx.AsyncClient:
            # one connection per pool: httpcore's per-request bookkeeping scans every pooled connection (and, for
            # each idle one, all of them again), ~3,700 checks per request with 32 connections (issue 16)
            return httpx.AsyncClient(
                base_url=base_url.rstrip("/"), headers=headers, follow_redirects=False,
                # our own transport unless a test gives one: httpcore on asyncio streams, without anyio's layer
                transport=transport if ssl_context is None else ApiTransport(ssl_context),
                timeout=httpx.Timeout(per_request, connect=min(5.0, per_request)),
                limits=httpx.Limits(max_connections=1, max_keepalive_connections=1),
                verify=ssl_context if ssl_context is not None else True,
            )

        self._new_lane = lane
        self._idle: list[httpx.AsyncClient] = []  # lanes not sending now; at most MAX_CONNECTIONS are ever made
        self._lanes: list[httpx.AsyncClient] = []

    def redact(self, text: str) -> str:
        return redact(text, self._secrets)

    def congested(self) -> bool:
        """Whether requests are queued behind the rate limit: a request asked now would wait its turn."""
        return self._limiter.busy()

    async def request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        json: Any = None,
        ok_missing: bool = False,
        expect: Expect = "object",
    ) -> Any:
        """One logical call with retries; the checked JSON object (``{}`` for an empty body where ``expect="any"``),
        or None on 404 if ok_missing.

        Retried (408, 429, 5xx, transport errors) until the operation deadline ``RetryPolicy.deadline``
        (and ``max_attempts`` when set), waiting as long as ``Retry-After`` says.
        """
        query = {k: ("true" if v is True else "false" if v is False else v) for k, v in (params or {}).items()}
        started = self._clock()
        attempt = 0
        while True:
            attempt += 1
            await self._limiter.acquire()
            self.requests += 1
            delay: float | None = None
            left = self._retry.deadline - (self._clock() - started)
            try:
                status, headers, content = await self._send(method, path, query, json, max(left, 0.001))
            except ProtocolError:
                raise  # an unusable answer is not a passing fault
            except TransportError as exc:
                self._log.debug("%s %s -> %s", method, path, exc)
                error: LorainfraError = exc
                if (isinstance(exc, _ConnectFailed) and not self._reached
                        and self._clock() - started >= self._retry.unreachable_deadline):
                    raise TransportError(f"cannot reach the endpoint {self._base_url} (tried for "
                                         f"{self._retry.unreachable_deadline:g}s): {exc}; check the endpoint "
                                         "(--endpoint, provider.endpoint or FIREWORKS_BASE_URL) and the network") from None
            else:
                self._reached = True
                self._log.debug("%s %s%s -> %s", method, path, f"?{query}" if query else "", status)
                if 200 <= status < 300:
                    return self._checked(status, content, method, path, expect)
                if 300 <= status < 400:
                    where = self.redact(headers.get("location", "")) or "(no Location)"
                    raise ApiError(status, message=f"unexpected redirect to {where}: lorainfra does not follow "
                                   "redirects; check that the endpoint is the API's base URL (e.g. "
                                   "https://api.fireworks.ai)", method=method, path=path)
                if status == 404 and ok_missing:
                    return None
                error = error_from(status, content, method=method, path=path, secrets=self._secrets)
                if status not in RETRYABLE_STATUS or headers.get("x-should-retry") == "false":
                    raise dataclasses.replace(error, retried=True) if attempt > 1 and isinstance(error, ApiError) else error
                delay = retry_after(headers)
            elapsed = self._clock() - started
            left = self._retry.deadline - elapsed
            if (self._retry.max_attempts is not None and attempt >= self._retry.max_attempts) or left <= 0:
                raise error
            if delay is not None and delay > left and isinstance(error, ApiError):
                raise dataclasses.replace(error, message=(
                    f"{error.message} (the server asked to retry after {delay:g}s (Retry-After), more than the "
                    f"{left:.3g}s left of this operation's {self._retry.deadline:g}s deadline)"))
            if delay is None:
                delay = min(self._retry.base_delay * 2 ** min(attempt - 1, 30), self._retry.max_delay)
                delay *= 0.5 + self._rng.random() / 2  # jitter
            await self._sleep(min(delay, left))

    async def _send(self, method: str, path: str, query: Mapping[str, Any], body: Any,
                    left: float) -> tuple[int, httpx.Headers, bytes]:
        """One attempt: (status, headers, body), read within the whole-request deadline and the size cap."""
        budget = min(self._limits.request_timeout, left)
        progress = _Progress()
        try:
            async with asyncio.timeout(budget):
                return await self._exchange(method, path, query, body, progress)
        except TimeoutError:
            what = (f"the body was still arriving after {progress.received} bytes (the server sends too slowly)"
                    if progress.headers else "the server sent nothing")
            raise TransportError(f"{method} {path}: no complete answer within {budget:.3g}s (the whole-request "
                                 f"deadline): {what}") from None
        except _TooLarge:
            raise ProtocolError(f"{method} {path}: the answer is larger than {_size(self._limits.max_body_bytes)}; "
                                "stopped reading it (is the endpoint the Fireworks API?)") from None
        except httpx.ConnectTimeout as exc:
            raise _ConnectFailed(f"{method} {path}: {_timeout_text(exc, budget)}") from None
        except httpx.TimeoutException as exc:
            raise TransportError(f"{method} {path}: {_timeout_text(exc, budget)}") from None
        except httpx.ConnectError as exc:
            raise _ConnectFailed(f"{method} {path}: {type(exc).__name__}: {self.redact(str(exc)) or 'no detail'}") from None
        except (httpx.HTTPError, ConnectionError, httpx.InvalidURL, ValueError, UnicodeError) as exc:
            # httpx wraps socket errors; an in-process ASGI transport re-raises the app's ConnectionError as is.
            # Not chained: the original's text may hold the key (an echoed or an invalid header).
            text = self.redact(str(exc)) or "no detail"
            raise TransportError(f"{method} {path}: {type(exc).__name__}: {text}") from None

    async def _exchange(self, method: str, path: str, query: Mapping[str, Any], body: Any,
                        progress: _Progress) -> tuple[int, httpx.Headers, bytes]:
        async with self._connections:  # held until the answer is read: the connection is busy till then
            if self._idle:
                client = self._idle.pop()
            else:
                client = self._new_lane()
                self._lanes.append(client)
            try:
                return await self._exchange_on_connection(client, method, path, query, body, progress)
            finally:
                self._idle.append(client)

    async def _exchange_on_connection(self, client: httpx.AsyncClient, method: str, path: str,
                                      query: Mapping[str, Any], body: Any,
                                      progress: _Progress) -> tuple[int, httpx.Headers, bytes]:
        request = client.build_request(method, path, params=query or None, json=body)
        response = await client.send(request, stream=True)
        try:
            progress.headers = True
            cap = self._limits.max_body_bytes
            declared = response.headers.get("content-length", "")
            if declared.isdigit() and int(declared) > cap:
                raise _TooLarge
            chunks: list[bytes] = []
            async for chunk in response.aiter_bytes():
                progress.received += len(chunk)
                if progress.received > cap:
                    raise _TooLarge
                chunks.append(chunk)
            return response.status_code, response.headers, b"".join(chunks)
        finally:
            await response.aclose()

    def _checked(self, status: int, content: bytes, method: str, path: str, expect: Expect) -> dict[str, Any]:
        """The answer of a 2xx, if it is what the call expects; an error otherwise (never an empty name)."""

        def bad(why: str) -> ProtocolError:
            return ProtocolError(f"{method} {path}: answered HTTP {status} {why}")

        if not content.strip():
            if expect == "any":
                return {}
            if expect == "page":
                raise bad("with a page that is not a JSON object (an empty body)")
            raise bad("without the expected resource: the body is empty (no resource name)")
        try:
            doc = json.loads(content)
        except (ValueError, RecursionError):
            raise bad("with a body that is not JSON") from None
        if not isinstance(doc, dict):
            raise bad(f"with a {'page' if expect == 'page' else 'body'} that is not a JSON object")
        if expect == "object" and not (isinstance(doc.get("name"), str) and doc["name"]):
            raise bad("without the expected resource: the object has no name")
        return doc

    async def list_all(
        self,
        path: str,
        collection: str,
        params: Mapping[str, Any] | None = None,
        *,
        parse: Callable[[dict[str, Any]], T],
    ) -> list[T]:
        """Every item of a paged collection (``pageSize`` 200, following ``nextPageToken``), each through ``parse``.

        Each page is parsed while the request for the next one is in flight. A repeated token, more than
        ``HttpLimits.max_pages`` pages, a collection that is not a list or an item without a name is an error.
        """
        def fetch(token: str) -> asyncio.Future[Any]:
            query: dict[str, Any] = {"pageSize": PAGE_SIZE, **(params or {})}
            if token:
                query["pageToken"] = token
            return asyncio.ensure_future(self.request("GET", path, params=query, expect="page"))

        items: list[T] = []
        seen: set[str] = set()
        pages = 0
        pending = fetch("")
        try:
            while True:
                page = await pending
                pages += 1
                raw_items, token = self._page(page, collection, path)
                if token:
                    follow_token(f"GET {path}", token, seen, pages, self._limits.max_pages)
                    pending = fetch(token)
                    for _ in range(3):  # let the next request reach the socket before parsing this page
                        await asyncio.sleep(0)
                items.extend(parse(raw) for raw in raw_items)
                if not token:
                    return items
        finally:
            if not pending.done():
                pending.cancel()

    @staticmethod
    def _page(page: dict[str, Any], collection: str, path: str) -> tuple[list[dict[str, Any]], str]:
        raw = page.get(collection)
        raw_items = [] if raw is None else raw
        if not isinstance(raw_items, list):
            raise ProtocolError(f"GET {path}: the page's {collection!r} is not a list ({type(raw).__name__})")
        for item in raw_items:
            if not isinstance(item, dict) or not (isinstance(item.get("name"), str) and item["name"]):
                raise ProtocolError(f"GET {path}: an item of {collection!r} is without a name (or not an object)")
        token = page.get("nextPageToken")
        if token is None:
            token = ""
        if not isinstance(token, str):
            raise ProtocolError(f"GET {path}: the page's nextPageToken is not a string")
        return raw_items, token

    async def aclose(self) -> None:
        lanes, self._lanes, self._idle = self._lanes, [], []
        for client in lanes:
            await client.aclose()


def _size(n: int) -> str:
    return f"{n // (1024 * 1024)} MiB" if n >= 1024 * 1024 and n % (1024 * 1024) == 0 else f"{n} bytes"


def _timeout_text(exc: httpx.TimeoutException, budget: float) -> str:
    if isinstance(exc, httpx.ConnectTimeout):
        return "could not connect in time (connect timeout): is the endpoint reachable?"
    if isinstance(exc, httpx.ReadTimeout):
        return f"the server sent nothing for {budget:g}s (read timeout)"
    if isinstance(exc, httpx.WriteTimeout):
        return f"could not send the request within {budget:g}s (write timeout)"
    return "no free connection in time (pool timeout): too many requests at once"
