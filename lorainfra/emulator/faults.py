"""ASGI middleware adding latency and seeded faults (429, 503, dropped connection, lost response)."""

from __future__ import annotations

import asyncio
import json
import random
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from lorainfra.emulator.options import EmulatorOptions

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

FAULTS = ("rate_limited", "unavailable", "drop", "lost_response")


class InjectedDisconnect(ConnectionResetError):
    """Raised to cut the connection: uvicorn closes the socket; httpx.ASGITransport re-raises it to the caller."""


class FaultInjector:
    """Wraps the emulator app; /emulator/* paths are never delayed or faulted."""

    def __init__(self, app: ASGIApp, options: EmulatorOptions) -> None:
        self.app = app
        self.options = options
        self.rng = random.Random(options.fault_seed)
        self.injected: list[tuple[str, str, str]] = []  # (fault, method, path)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or str(scope.get("path", "")).startswith("/emulator/"):
            await self.app(scope, receive, send)
            return
        if self.options.latency_ms > 0:
            await asyncio.sleep(self.options.latency_ms / 1000.0)
        if self.options.fault_rate <= 0 or self.rng.random() >= self.options.fault_rate:
            await self.app(scope, receive, send)
            return
        fault = self.rng.choice(FAULTS)
        self.injected.append((fault, scope.get("method", ""), scope.get("path", "")))
        if fault == "rate_limited":
            await _error(send, 429, 8, "injected fault: rate limited", [(b"retry-after", b"1")])
        elif fault == "unavailable":
            await _error(send, 503, 14, "injected fault: service unavailable", [])
        elif fault == "drop":
            await _abort(send)
        else:

            async def swallow(message: Message) -> None:
                return None

            await self.app(scope, receive, swallow)
            await _abort(send)


async def _error(send: Send, status: int, code: int, message: str, extra: list[tuple[bytes, bytes]]) -> None:
    body = json.dumps({"code": code, "message": message, "details": []}).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()), *extra]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


async def _abort(send: Send) -> None:
    # Announce a body that never arrives, then fail: the client sees the connection die mid-response.
    await send(
        {
            "type": "http.response.start",
            "status": 200,
            "headers": [(b"content-type", b"application/json"), (b"content-length", b"64")],
        }
    )
    raise InjectedDisconnect("injected fault: connection dropped")
