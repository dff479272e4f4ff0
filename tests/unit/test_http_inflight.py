"""Requests in flight are bounded by the connection pool size, so httpx never queues a fleet's worth of them.

httpcore matches queued requests to connections by scanning both lists on every change: with thousands of
requests queued behind 64 connections that is quadratic, and it was most of a 1,070-resource destroy's CPU
(issue 16). The client waits for a free connection itself, before httpx sees the request.
"""

from __future__ import annotations

import asyncio

import httpx

from lorainfra.providers.http import MAX_CONNECTIONS, HttpClient


class HeldTransport(httpx.AsyncBaseTransport):
    """Answers only once released; counts requests it holds at once."""

    def __init__(self) -> None:
        self.gate = asyncio.Event()
        self.inflight = 0
        self.peak = 0

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self.inflight += 1
        self.peak = max(self.peak, self.inflight)
        try:
            await self.gate.wait()
            return httpx.Response(200, json={"name": f"accounts/a/deployments/{request.url.path.rsplit('/', 1)[-1]}"})
        finally:
            self.inflight -= 1


def test_requests_in_flight_never_exceed_the_connection_pool() -> None:
    async def main() -> tuple[int, int, int]:
        transport = HeldTransport()
        client = HttpClient(api_key="k", base_url="http://emulator.test", transport=transport, max_rps=0)
        try:
            calls = [asyncio.ensure_future(client.request("GET", f"/v1/accounts/a/deployments/d{i}"))
                     for i in range(MAX_CONNECTIONS * 3)]
            for _ in range(200):  # let every call run as far as it can (no wall-clock wait)
                await asyncio.sleep(0)
            held = transport.inflight
            transport.gate.set()
            answers = await asyncio.gather(*calls)
            return held, transport.peak, len(answers)
        finally:
            await client.aclose()

    held, peak, answered = asyncio.run(main())
    assert held == MAX_CONNECTIONS
    assert peak == MAX_CONNECTIONS
    assert answered == MAX_CONNECTIONS * 3


def test_pool_bookkeeping_per_request_does_not_grow_with_the_connections(monkeypatch: object) -> None:
    """httpcore's pool checks every pooled connection (idle, expired: a syscall each) on every request and
    response, and for each idle one counts all of them again: about 340 ``is_idle`` calls per request with 32
    connections, a quarter of a fleet apply's CPU (issue 16). Each connection has its own small pool now."""
    import httpcore._async.connection as connection_mod
    import pytest

    calls = {"is_idle": 0}
    real = connection_mod.AsyncHTTPConnection.is_idle

    def counting(self: connection_mod.AsyncHTTPConnection) -> bool:
        calls["is_idle"] += 1
        return real(self)

    patch = pytest.MonkeyPatch()
    patch.setattr(connection_mod.AsyncHTTPConnection, "is_idle", counting)

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        body = b'{"name": "accounts/a/deployments/d"}'
        try:
            while await reader.readuntil(b"\r\n\r\n"):
                writer.write(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: "
                             + str(len(body)).encode() + b"\r\n\r\n" + body)
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            writer.close()  # the client closed its connection

    async def main() -> int:
        server = await asyncio.start_server(serve, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        client = HttpClient(api_key="k", base_url=f"http://127.0.0.1:{port}", max_rps=0)
        sent = 0
        try:
            for _ in range(4):  # rounds of as many concurrent requests as there are connections
                await asyncio.gather(*[client.request("GET", f"/v1/accounts/a/deployments/d{i}")
                                       for i in range(MAX_CONNECTIONS)])
                sent += MAX_CONNECTIONS
        finally:
            await client.aclose()
            server.close()
        return sent

    try:
        sent = asyncio.run(main())
    finally:
        patch.undo()
    assert calls["is_idle"] / sent <= 12, calls
