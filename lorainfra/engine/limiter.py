"""Limiter: the one bound on operations sending requests at once (--parallelism).

An operation holds a slot while it sends requests and lends it back while it only waits for a
resource to become ready or gone (waiting costs only shared, rate-limited polls), so a wide fleet
does not apply in waves.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager


class Slot:
    """One operation's hold on the limiter."""

    def __init__(self, pool: asyncio.Semaphore) -> None:
        self._pool = pool

    @asynccontextmanager
    async def lent(self) -> AsyncIterator[None]:
        """Give the slot back for the duration of a wait, and take it again after."""
        self._pool.release()
        try:
            yield
        finally:
            await self._pool.acquire()


class Limiter:
    """At most ``slots`` holders at once."""

    def __init__(self, slots: int) -> None:
        self._pool = asyncio.Semaphore(max(1, slots))

    @asynccontextmanager
    async def slot(self) -> AsyncIterator[Slot]:
        await self._pool.acquire()
        try:
            yield Slot(self._pool)
        finally:
            self._pool.release()
