"""The Emulator: an ASGI app (auth, JSON, errors, emulator-only endpoints) over the SQLite store.

Every HTTP request goes straight to ``_endpoint``: there is one route, so starlette's router and
middleware stack (a fifth of the Python time of a request) are left out; its Request and Response
classes are used where they save code (bodies, uploads, downloads).
"""

from __future__ import annotations

import json
import logging
import os
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qsl, unquote

from starlette.requests import Request
from starlette.responses import FileResponse, PlainTextResponse, Response

from lorainfra.emulator import deployed_models, deployments, models, routes, shapes, uploads
from lorainfra.emulator.clock import rfc3339
from lorainfra.emulator.context import Ctx
from lorainfra.emulator.errors import NOT_FOUND, UNAUTHENTICATED, UNIMPLEMENTED, RpcError, invalid
from lorainfra.emulator.faults import FaultInjector, Receive, Scope, Send
from lorainfra.emulator.options import EmulatorOptions
from lorainfra.emulator.ratelimit import RateLimiter
from lorainfra.emulator.store import Store
from lorainfra.emulator.wire import Rendered, dumps

__all__ = ["Emulator", "EmulatorOptions"]

log = logging.getLogger("lorainfra.emulator")
METHODS = ("GET", "POST", "PATCH", "PUT", "DELETE", "HEAD")  # others: 405, as starlette's route answered


class Emulator:
    """A Fireworks control-plane emulator persisted in one SQLite file; `app` is the ASGI entry point."""

    def __init__(
        self,
        db_path: str | os.PathLike[str],
        options: EmulatorOptions = EmulatorOptions(),
        *,
        clock: Callable[[], float] | None = None,
    ) -> None:
        self.options = options
        self.store = Store(os.fspath(db_path))
        self.ctx = Ctx(
            self.store, options, clock or time.time, settlers=[deployments.settle, deployed_models.settle]
        )
        with self.store.tx() as db:
            models.install(db, tuple(options.seed_models))
            shapes.install(db)
        self.faults = FaultInjector(self.http_app, options)
        self.app = RateLimiter(self.faults, options.max_rps, clock or time.time)

    # --- clock -------------------------------------------------------------------------------------------

    def now(self) -> float:
        """Current emulated time (epoch seconds)."""
        with self.store.tx() as db:
            return self.ctx.now(db)

    def advance(self, seconds: float) -> None:
        """Move the emulated clock forward; persisted, so every process sharing the db file sees it."""
        if seconds < 0:
            raise ValueError("the emulated clock only moves forward")
        with self.store.tx() as db:
            offset = float(self.store.meta_get(db, "clock_offset", "0")) + float(seconds)
            self.store.meta_set(db, "clock_offset", repr(offset))

    def close(self) -> None:
        self.store.close()

    # --- HTTP --------------------------------------------------------------------------------------------

    async def http_app(self, scope: Scope, receive: Receive, send: Send) -> None:
        """The inner ASGI app (under the fault injector and the rate limiter)."""
        if scope["type"] == "lifespan":
            await _lifespan(receive, send)
            return
        if scope["type"] != "http":
            return
        if scope["method"] not in METHODS:
            response: Response = PlainTextResponse(
                "Method Not Allowed", status_code=405, headers={"Allow": ", ".join(METHODS)}
            )
        else:
            response = await self._endpoint(Request(scope, receive))
        await response(scope, receive, send)

    async def _endpoint(self, request: Request) -> Response:
        try:
            return await self._dispatch(request)
        except RpcError as err:
            return _json(err.body(), status_code=err.http_status, headers=err.headers)
        except Exception as exc:  # a bug: answer INTERNAL rather than a bare 500 page
            log.exception("emulator error on %s %s", request.method, request.scope["path"])
            internal = RpcError(13, f"internal emulator error: {type(exc).__name__}: {exc}")
            return _json(internal.body(), status_code=500)

    async def _dispatch(self, request: Request) -> Response:
        path, method = str(request.scope["path"]), str(request.scope["method"])
        if path == "/emulator/v1/health":
            return _json({"status": "ok", "now": rfc3339(self.now())})
        if path.startswith(("/emulator/v1/uploads/", "/emulator/v1/downloads/")):
            return await self._files(request)
        self._authenticate(request)
        if path.startswith("/emulator/v1/clock"):
            return await self._clock(request)
        handler, params, known = routes.resolve(method, path)
        if handler is None:
            if known:
                raise RpcError(UNIMPLEMENTED, f"method {method} is not supported on {path}")
            raise RpcError(NOT_FOUND, f"no such API path: {path}")
        body = await _json_body(request) if method in ("POST", "PATCH", "PUT") else {}
        query = dict(parse_qsl(request.scope["query_string"].decode("latin-1"), keep_blank_values=True))
        req = routes.Req(method, params, query, body, lambda: str(request.base_url))
        return _json(handler(self.ctx, req))

    def _authenticate(self, request: Request) -> None:
        header = _header(request.scope, b"authorization")
        scheme, _, token = header.partition(" ")
        token = token.strip()
        if scheme.lower() != "bearer" or not token:
            raise RpcError(UNAUTHENTICATED, "missing or empty bearer token (Authorization: Bearer <API key>)")
        if self.options.api_key is not None and token != self.options.api_key:
            raise RpcError(UNAUTHENTICATED, "invalid API key")

    async def _clock(self, request: Request) -> Response:
        path = request.url.path
        if path == "/emulator/v1/clock" and request.method == "GET":
            return _json({"now": rfc3339(self.now())})
        if path == "/emulator/v1/clock:advance" and request.method == "POST":
            body = await _json_body(request)
            seconds = body.get("seconds")
            if isinstance(seconds, bool) or not isinstance(seconds, int | float) or seconds < 0:
                raise invalid("seconds must be a non-negative number", field="seconds")
            self.advance(float(seconds))
            return _json({"now": rfc3339(self.now())})
        raise RpcError(NOT_FOUND, f"no such emulator path: {request.method} {path}")

    async def _files(self, request: Request) -> Response:
        kind, _, rest = request.url.path.removeprefix("/emulator/v1/").partition("/")
        model, _, filename = rest.rpartition("/")
        signature = request.query_params.get("signature", "")
        if kind == "uploads" and request.method == "PUT":
            await uploads.put_file(self.ctx, model, unquote(filename), signature, request.headers, request.stream())
            return Response(status_code=200)
        if kind == "downloads" and request.method == "GET":
            path = uploads.get_file(self.ctx, model, unquote(filename), signature)
            return FileResponse(path, media_type="application/octet-stream")
        raise RpcError(UNIMPLEMENTED, f"method {request.method} is not supported on {request.url.path}")


def _header(scope: Scope, name: bytes) -> str:
    """The first value of a (lower-case) request header, as starlette's Headers.get gives it."""
    for key, value in scope["headers"]:
        if key == name:
            return str(value.decode("latin-1"))
    return ""


async def _lifespan(receive: Receive, send: Send) -> None:
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            await send({"type": "lifespan.shutdown.complete"})
            return


def _json(body: Any, status_code: int = 200, headers: dict[str, str] | None = None) -> Response:
    raw = body.body if isinstance(body, Rendered) else dumps(body).encode("utf-8")
    return Response(raw, status_code=status_code, headers=headers, media_type="application/json")


async def _json_body(request: Request) -> dict[str, Any]:
    raw = await request.body()
    if not raw.strip():
        return {}
    try:
        body = json.loads(raw)
    except ValueError as exc:
        raise invalid(f"request body is not valid JSON: {exc}") from exc
    if not isinstance(body, dict):
        raise invalid("request body must be a JSON object")
    return body
