"""Fireworks provider: the REST control plane over one httpx.AsyncClient (paged refresh, retries, 409 resolution)."""

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
from lorainfra.config.model import DEFAULT_MAX_RPS, frozen_mapping
from lorainfra.errors import ApiError, TransportError
from lorainfra.kinds.base import Request
from lorainfra.kinds.registry import KINDS, kind_of
from lorainfra.live import ModelInfo, Observed, RemoteObject

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


def _error_from(response: httpx.Response) -> ApiError:
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


def _retry_after(response: httpx.Response) -> float | None:
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


class FireworksProvider:
    """Talks to ``/v1/accounts/{account}/...`` on the real service, a served emulator, or in-process."""

    def __init__(
        self,
        *,
        account: str,
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
        self.account = account
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

    # ---------------------------------------------------------------- plumbing
    def _path(self, suffix: str) -> str:
        return f"/v1/accounts/{self.account}/{suffix}"

    def remote_name(self, kind: str, resource_id: str) -> str:
        return kind_of(kind).remote_name(self.account, resource_id)

    async def _request(
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
                error = _error_from(response)
                if response.status_code not in RETRYABLE_STATUS or response.headers.get("x-should-retry") == "false":
                    raise error
                delay = _retry_after(response)
            elapsed = time.monotonic() - started
            if attempt >= self._retry.max_attempts or elapsed >= self._retry.deadline:
                raise error
            if delay is None:
                delay = min(self._retry.base_delay * 2 ** (attempt - 1), self._retry.max_delay)
                delay *= 0.5 + self._rng.random() / 2  # jitter
            await self._sleep(min(delay, max(0.0, self._retry.deadline - elapsed)))

    async def _list_all(self, collection: str, params: Mapping[str, Any] | None = None) -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = []
        token = ""
        while True:
            query: dict[str, Any] = {"pageSize": PAGE_SIZE, **(params or {})}
            if token:
                query["pageToken"] = token
            page = await self._request("GET", self._path(collection), params=query)
            items.extend(page.get(collection) or [])
            token = page.get("nextPageToken") or ""
            if not token:
                return items

    # ---------------------------------------------------------------- reads
    async def list_objects(self, kind: str) -> list[RemoteObject]:
        """Every object of a kind, paged; each page is parsed while the request for the next one is in flight."""
        spec = kind_of(kind)
        collection = spec.collection

        def fetch(token: str) -> asyncio.Task[Any]:
            query: dict[str, Any] = {"pageSize": PAGE_SIZE}
            if token:
                query["pageToken"] = token
            return asyncio.ensure_future(self._request("GET", self._path(collection), params=query))

        objects: list[RemoteObject] = []
        pending = fetch("")
        while True:
            page = await pending
            token = page.get("nextPageToken") or ""
            if token:
                pending = fetch(token)
                for _ in range(3):  # let the next request reach the socket before parsing this page
                    await asyncio.sleep(0)
            objects.extend(spec.from_wire(raw, account=self.account) for raw in page.get(collection) or [])
            if not token:
                return objects

    async def refresh(self) -> Observed:
        before = self.requests
        listed = await asyncio.gather(*(self.list_objects(kind) for kind in KINDS))
        objects = {obj.name: obj for objs in listed for obj in objs}
        return Observed(objects=frozen_mapping(objects), requests=self.requests - before)

    async def get(self, kind: str, name: str) -> RemoteObject | None:
        raw = await self._request("GET", f"/v1/{name}", ok_missing=True)
        return None if raw is None else kind_of(kind).from_wire(raw, account=self.account)

    async def find(self, kind: str, identity: Mapping[str, Any]) -> RemoteObject | None:
        spec = kind_of(kind)
        lookup = spec.lookup(identity, self.account)
        if lookup.name:
            return await self.get(kind, lookup.name)
        for raw in await self._list_all(spec.collection, {"filter": lookup.filter}):
            obj = spec.from_wire(raw, account=self.account)
            if not obj.gone and obj.key == lookup.key:
                return obj
        return None

    async def get_model(self, name: str) -> ModelInfo | None:
        raw = await self._request("GET", f"/v1/{name}", ok_missing=True)
        if raw is None:
            return None
        peft = raw.get("peftDetails") or {}
        return ModelInfo(
            name=str(raw.get("name", name)),
            kind=str(raw.get("kind", "") or ""),
            state=str(raw.get("state", "") or ""),
            base_model=str(peft.get("baseModel", "") or ""),
            supports_lora=bool(raw.get("supportsLora", False)),
            supports_serverless=bool(raw.get("supportsServerless", False)),
        )

    # ---------------------------------------------------------------- writes
    async def _send(self, request: Request, *, ok_missing: bool = False) -> Any:
        return await self._request(request.method, f"/v1/{request.path}", params=dict(request.params) or None,
                                   json=request.body, ok_missing=ok_missing)

    async def create(
        self, kind: str, resource_id: str, attributes: Mapping[str, Any], *, validate_only: bool = False
    ) -> RemoteObject:
        spec = kind_of(kind)
        raw = await self._send(spec.create_request(resource_id, attributes, account=self.account,
                                                   validate_only=validate_only))
        return spec.from_wire(raw, account=self.account)

    async def update(
        self, kind: str, name: str, attributes: Mapping[str, Any], changed: tuple[str, ...]
    ) -> RemoteObject:
        spec = kind_of(kind)
        raw = await self._send(spec.update_request(name, attributes, changed, account=self.account))
        return spec.from_wire(raw, account=self.account)

    async def delete(self, kind: str, name: str) -> None:
        await self._send(kind_of(kind).delete_request(name), ok_missing=True)

    async def aclose(self) -> None:
        await self._client.aclose()


def local_provider(app: Any, *, account: str, api_key: str, **kwargs: Any) -> FireworksProvider:
    """The same provider, talking in-process to an ASGI app (the embedded emulator): no server, no network."""
    return FireworksProvider(
        account=account,
        api_key=api_key,
        base_url="http://emulator.local",
        transport=httpx.ASGITransport(app=app),
        **kwargs,
    )
