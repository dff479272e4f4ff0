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
