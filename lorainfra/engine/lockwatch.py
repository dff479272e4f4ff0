"""LockWatch: whether the run still holds its state lock, asked of the backend at most once per interval."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from lorainfra.state.backend import StateBackend


class LockWatch:
    """``lost()`` asks ``backend.lock_lost`` (in a thread: it may do I/O) at most once per ``interval`` seconds
    of ``clock``; between asks the last answer stands. A lost lock stays lost. Without a backend nothing is lost.

    Every step of an apply asks before it starts: asking the backend each time cost a thread hop and a syscall
    (or a database round trip) per operation; once per interval bounds that by time, not by the fleet.
    """

    def __init__(self, backend: StateBackend | None, clock: Callable[[], float], interval: float) -> None:
        self._backend = backend
        self._clock = clock
        self._interval = interval
        self._next: float | None = None  # when the next ask is due; None: never asked
        self._asking: asyncio.Future[str | None] | None = None  # the ask in flight: later callers wait for it
        self._lost: str | None = None

    async def lost(self) -> str | None:
        if self._backend is None or self._lost is not None:
            return self._lost
        if self._asking is not None:  # a step starting while the backend is asked waits for that answer
            return await asyncio.shield(self._asking)
        now = self._clock()
        if self._next is not None and now < self._next:
            return None
        self._next = now + self._interval
        self._asking = asyncio.ensure_future(asyncio.to_thread(self._backend.lock_lost))
        try:
            self._lost = await asyncio.shield(self._asking)
        finally:
            self._asking = None
        return self._lost
