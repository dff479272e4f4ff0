"""State backend protocol: how the engine reads, writes (compare-and-swap) and locks a state store."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Protocol

from lorainfra.errors import StateError
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


def write_base(
    state: State,
    *,
    stored_lineage: str,
    stored_serial: int,
    stored_text: str | None,
    unconfirmed: str | None,
    where: str,
) -> int:
    """The serial a write of ``state`` goes on top of (the compare-and-swap rule of every backend).

    The stored version must be of the same lineage and at ``state.serial``, or be exactly the
    writer's own ``unconfirmed`` version: a write of this writer that landed although it reported an
    error (a failed fsync after the rename, a COMMIT whose answer was lost). That one is one serial
    above what the writer believes, and the next write goes on top of it.
    """
    if stored_lineage != state.lineage:
        raise StateError(
            f"state lineage {state.lineage} does not match the stored lineage {stored_lineage} "
            f"({where}): this state belongs to another project"
        )
    if stored_serial == state.serial:
        return stored_serial
    if unconfirmed is not None and stored_serial == state.serial + 1 and stored_text == unconfirmed:
        return stored_serial
    raise StateError(
        f"state was changed by another writer: expected serial {state.serial}, found {stored_serial} "
        f"({where}); run the command again"
    )


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
