"""State backend protocol: how the engine reads, writes (compare-and-swap) and locks a state store."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Protocol

from lorainfra.state.model import State


@dataclass(frozen=True)
class LockInfo:
    """Who holds a state lock, since when, and for what."""

    id: str  # unique per acquisition (uuid)
    who: str  # user@host (pid N)
    operation: str  # "apply", "destroy", "plan --out", "import", ...
    created: str  # RFC 3339 UTC

    def describe(self) -> str:
        return f"lock {self.id} held by {self.who} since {self.created} for {self.operation!r}"


@dataclass(frozen=True)
class HistoryEntry:
    """One state version ever written."""

    serial: int
    lineage: str
    written_at: str
    who: str
    operation: str


class StateBackend(Protocol):
    """A state store. Implementations: ``state.local`` (JSON file) and ``state.postgres``."""

    def describe(self) -> str:
        """Human-readable location, e.g. ``local file .lorainfra/state.json``."""
        ...

    def read(self) -> State | None:
        """The latest state, or None when nothing was ever written."""
        ...

    def write(self, state: State, *, operation: str = "") -> State:
        """Store ``state`` as the next version.

        Compare-and-swap: the stored serial must equal ``state.serial`` and the lineage must match
        (or nothing is stored yet); the stored document gets ``serial + 1``, which is returned.
        Raises StateError if another writer got there first.
        """
        ...

    def lock(self, operation: str, *, timeout: float = 0.0) -> AbstractContextManager[LockInfo]:
        """Hold the session lock for the duration of the ``with`` block.

        Fails at once with LockError naming the holder, or waits up to ``timeout`` seconds.
        A holder that died releases the lock by itself (OS file lock / advisory lock).
        """
        ...

    def lock_holder(self) -> LockInfo | None:
        """Who holds the lock now, or None."""
        ...

    def force_unlock(self, lock_id: str) -> None:
        """Remove a lock record by ID (for locks whose holder is known to be gone)."""
        ...

    def history(self) -> Iterator[HistoryEntry]:
        """Every version written, oldest first (local backend: what its backups still hold)."""
        ...

    def read_serial(self, serial: int) -> State | None:
        """The state as it was at ``serial``, if kept."""
        ...
