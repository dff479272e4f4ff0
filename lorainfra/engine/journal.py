"""Journal: the only writer of state while a plan is applied (group commit, injected clock)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime

from lorainfra.state.backend import StateBackend
from lorainfra.state.model import State

Edit = Callable[[State], State]


def utc_now() -> datetime:
    return datetime.now(UTC)


class Journal:
    """Holds the current state of an apply and makes each edit durable before returning.

    Group commit: while one write is in flight (in a thread, so waits and requests go on), every
    edit made meanwhile is collected and the next write stores them all at once. A create's pending
    marker is therefore durable before the create is sent, at a fraction of the writes. With no
    backend (dry runs, tests) edits only move the serial on.
    """

    def __init__(
        self, backend: StateBackend | None, state: State, *, operation: str,
        clock: Callable[[], datetime] = utc_now,
    ) -> None:
        self.backend = backend
        self.state = state
        self.operation = operation
        self._clock = clock
        self._lock = asyncio.Lock()
        self._generation = 0  # edits applied to self.state in memory
        self._written = 0  # edits known to be durable in the backend

    def now(self) -> str:
        """The journal's clock, as recorded in pending operations."""
        return self._clock().strftime("%Y-%m-%dT%H:%M:%SZ")

    async def commit(self, edit: Edit) -> None:
        """Apply ``edit`` now, and return once a write that includes it is durable."""
        self.state = edit(self.state)
        self._generation += 1
        wanted = self._generation
        async with self._lock:
            if self._written >= wanted:
                return  # a write that started after our edit already stored it
            generation, snapshot = self._generation, self.state
            if self.backend is None:
                written = snapshot.next_serial()
            else:
                written = await asyncio.to_thread(self.backend.write, snapshot, operation=self.operation)
            self._written = generation
            self.state = replace(self.state, serial=written.serial)  # later edits kept; serial moves on

    async def open(self, *, force: bool = False) -> None:
        """Make the state document exist (its lineage) before anything is applied; ``force`` writes the
        current state even when it exists (pending operations resolved by the plan)."""
        if force or (self.state.serial == 0 and self.backend is not None and self.backend.read() is None):
            await self.commit(lambda s: s)
