"""Serve the emulator in this process (uvicorn) with a request counter: ``python -m benchmarks.server``.

The emulator app is exactly ``lorainfra.emulator.server.build(...)``; the only addition is an ASGI
wrapper counting ``/v1`` requests, read (and reset) with ``GET /bench/requests[?reset=1]``.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

import uvicorn

from lorainfra.emulator.options import EmulatorOptions
from lorainfra.emulator.server import build, uvicorn_config

Scope = MutableMapping[str, Any]
ASGIApp = Callable[[Scope, Any, Any], Awaitable[None]]


class Counter:
    """Counts /v1 requests by method and answers by status; answers GET /bench/requests itself."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.counts: dict[str, int] = {}
        self.statuses: dict[str, int] = {}

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        path = str(scope.get("path", ""))
        if scope["type"] == "http" and path == "/bench/requests":
            body = json.dumps({"total": sum(self.counts.values()), "by_method": self.counts,
                               "by_status": self.statuses}).encode()
            if b"reset=1" in scope.get("query_string", b""):
                self.counts, self.statuses = {}, {}
            await send({"type": "http.response.start", "status": 200,
                        "headers": [(b"content-type", b"application/json"),
                                    (b"content-length", str(len(body)).encode())]})
            await send({"type": "http.response.body", "body": body})
            return
        if scope["type"] == "http" and path.startswith("/v1/"):
            method = str(scope.get("method", ""))
            self.counts[method] = self.counts.get(method, 0) + 1

            async def counted(message: Any) -> None:
                if message.get("type") == "http.response.start":
                    status = str(message.get("status", ""))
                    self.statuses[status] = self.statuses.get(status, 0) + 1
                await send(message)

            await self.app(scope, receive, counted)
            return
        await self.app(scope, receive, send)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--db", required=True)
    p.add_argument("--seed")
    p.add_argument("--ready-after", type=float, default=2.0)
    p.add_argument("--deployed-after", type=float, default=1.0)
    p.add_argument("--latency-ms", type=float, default=0.0)
    p.add_argument("--delete-after", type=float, default=0.5)
    p.add_argument("--serverless-per-base", type=int, default=3,
                   help="serverless LoRAs per base model (the fleet benchmark loads 100 on one base)")
    p.add_argument("--max-rps", type=float, default=None, help="429 + Retry-After beyond N requests/s")
    a = p.parse_args()
    options = EmulatorOptions(ready_after=a.ready_after, deployed_after=a.deployed_after, latency_ms=a.latency_ms,
                              max_rps=a.max_rps, delete_after=a.delete_after,
                              serverless_per_base_limit=a.serverless_per_base)
    emulator = build(a.db, options, a.seed)
    print(f"benchmark emulator listening on http://127.0.0.1:{a.port}", flush=True)
    try:
        uvicorn.Server(uvicorn_config(Counter(emulator.app), host="127.0.0.1", port=a.port)).run()
    finally:
        emulator.close()


if __name__ == "__main__":
    main()
