"""ASGI middleware: the account request quota as a per-account, per-second request budget (off by default).

Fireworks documents one account-wide request envelope (6,000 requests/minute with a payment method,
10/minute without; docs.fireworks.ai/guides/quotas_usage/account-quotas). The emulator models it as
``max_rps`` requests per account per whole second of the (injected) wall clock: past that, 429 with
``Retry-After`` (seconds until the next second starts, at least 1) and a RESOURCE_EXHAUSTED body whose
ErrorInfo reason is RATE_LIMIT_EXCEEDED. Every /v1 response carries the budget in
``x-ratelimit-limit-requests`` / ``x-ratelimit-remaining-requests`` (names inferred).
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable, MutableMapping

from lorainfra.emulator.errors import RESOURCE_EXHAUSTED, RpcError
from lorainfra.emulator.faults import ASGIApp, Message, Receive, Scope, Send

_ACCOUNT = re.compile(r"^/v1/accounts/([^/:]+)")


class RateLimiter:
    """Wraps the emulator app; only /v1 requests count, and only when ``max_rps`` is set."""

    def __init__(self, app: ASGIApp, max_rps: float | None, clock: Callable[[], float]) -> None:
        self.app = app
        self.max_rps = max_rps
        self.clock = clock
        self._window: MutableMapping[str, tuple[int, int]] = {}  # account -> (second, requests seen)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = str(scope.get("path", ""))
        if self.max_rps is None or scope["type"] != "http" or not path.startswith("/v1/"):
            await self.app(scope, receive, send)
            return
        limit = max(1, math.floor(self.max_rps))
        now = self.clock()
        second = math.floor(now)
        match = _ACCOUNT.match(path)
        account = match.group(1) if match else ""
        start, seen = self._window.get(account, (second, 0))
        if start != second:
            seen = 0
        seen += 1
        self._window[account] = (second, seen)
        headers = [
            (b"x-ratelimit-limit-requests", str(limit).encode()),
            (b"x-ratelimit-remaining-requests", str(max(0, limit - seen)).encode()),
        ]
        if seen > limit:
            retry = max(1, math.ceil(second + 1 - now))
            err = RpcError(
                RESOURCE_EXHAUSTED,
                f"request rate limit exceeded: at most {limit} requests per second for account {account!r}",
                reason="RATE_LIMIT_EXCEEDED",
                metadata={"kind": "rate"},
            )
            body = json.dumps(err.body()).encode()
            await send(
                {
                    "type": "http.response.start",
                    "status": 429,
                    "headers": [
                        (b"content-type", b"application/json"),
                        (b"content-length", str(len(body)).encode()),
                        (b"retry-after", str(retry).encode()),
                        *headers,
                    ],
                }
            )
            await send({"type": "http.response.body", "body": body})
            return

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                message = {**message, "headers": [*message.get("headers", []), *headers]}
            await send(message)

        await self.app(scope, receive, with_headers)
