"""HTTP plumbing for the Fireworks REST API: one httpx.AsyncClient, retries, rate limit, error envelopes, paging."""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any

import httpx

from lorainfra import __version__
from lorainfra.config.model import DEFAULT_MAX_RPS
from lorainfra.errors import ApiError, TransportError

PAGE_SIZE = 200
RETRYABLE_STATUS = frozenset({408, 429, 500, 502, 503, 504})


@dataclass(frozen=True)
class RetryPolicy:
    """Which failures are retried, how often, and how long to wait between tries."""

    max_attempts: int = 6
    base_delay: float = 0.25
    max_delay: float = 8.0
    deadline: float = 120.0  # seconds per operation (one logical call, all attempts)


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


def error_from(response: httpx.Response) -> ApiError:
    """Read either error envelope: ``{code, message, details}`` or ``{"error": {...}}``."""
    code, message = 0, ""
    details: list[object] = []
    try:
        body: Any = response.json()
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
        message = response.text[:300] if response.text else response.reason_phrase
    return ApiError(
        status=response.status_code,
        code=code,
        message=message,
        method=response.request.method,
        path=response.request.url.path,
        details=list(details) if isinstance(details, list) else [],
    )


def retry_after(response: httpx.Response) -> float | None:
    for header, scale in (("retry-after-ms", 0.001), ("retry-after", 1.0)):
        value = response.headers.get(header)
        if value:
            try:
                seconds = float(value) * scale
            except ValueError:
                continue
            if 0 < seconds <= 60:
                return seconds
    return None


class HttpClient:
    """One logical call at a time with retries, a rate limit and a deadline; counts the requests sent."""

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
    ) -> None:
        self._retry = retry or RetryPolicy()
        self._limiter = RateLimiter(max_rps)
        self._sleep = sleep
        self._rng = rng or random.Random()
        self._log = logger or logging.getLogger("lorainfra.http")
        self.requests = 0
        self._client = httpx.AsyncClient(
            base_url=base_url.rstrip("/"),
            transport=transport,
            timeout=httpx.Timeout(timeout, connect=5.0),
            headers={
                "Authorization": f"Bearer {api_key}",
                "User-Agent": f"lorainfra/{__version__}",
                "Accept": "application/json",
            },
            limits=httpx.Limits(max_connections=64, max_keepalive_connections=32),
        )

    async def request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        json: Any = None,
        ok_missing: bool = False,
    ) -> Any:
        """One logical call with retries; returns parsed JSON ({} for an empty body), or None on 404 if ok_missing."""
        query = {k: ("true" if v is True else "false" if v is False else v) for k, v in (params or {}).items()}
        started = time.monotonic()
        attempt = 0
        while True:
            attempt += 1
            await self._limiter.acquire()
            self.requests += 1
            delay: float | None = None
            try:
                response = await self._client.request(method, path, params=query or None, json=json)
            except (httpx.HTTPError, ConnectionError) as exc:
                # httpx wraps socket errors; an in-process ASGI transport re-raises the app's ConnectionError as is
                self._log.debug("%s %s -> %s", method, path, type(exc).__name__)
                error: Exception = TransportError(f"{method} {path}: {type(exc).__name__}: {exc}")
                error.__cause__ = exc
            else:
                self._log.debug("%s %s%s -> %s", method, path, f"?{query}" if query else "", response.status_code)
                if response.status_code < 400:
                    if not response.content:
                        return {}
                    try:
                        return response.json()
                    except ValueError as exc:
                        raise ApiError(response.status_code, message="response is not JSON", method=method, path=path) from exc
                if response.status_code == 404 and ok_missing:
                    return None
                error = error_from(response)
                if response.status_code not in RETRYABLE_STATUS or response.headers.get("x-should-retry") == "false":
                    raise error
                delay = retry_after(response)
            elapsed = time.monotonic() - started
            if attempt >= self._retry.max_attempts or elapsed >= self._retry.deadline:
                raise error
            if delay is None:
                delay = min(self._retry.base_delay * 2 ** (attempt - 1), self._retry.max_delay)
                delay *= 0.5 + self._rng.random() / 2  # jitter
            await self._sleep(min(delay, max(0.0, self._retry.deadline - elapsed)))

    async def list_all(self, path: str, collection: str, params: Mapping[str, Any] | None = None) -> list[dict[str, Any]]:
        """Every item of a paged collection (``pageSize`` 200, following ``nextPageToken``)."""
        items: list[dict[str, Any]] = []
        token = ""
        while True:
            query: dict[str, Any] = {"pageSize": PAGE_SIZE, **(params or {})}
            if token:
                query["pageToken"] = token
            page = await self.request("GET", path, params=query)
            items.extend(page.get(collection) or [])
            token = page.get("nextPageToken") or ""
            if not token:
                return items

    async def aclose(self) -> None:
        await self._client.aclose()
