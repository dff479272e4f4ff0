"""State backend protocol: how the engine reads, writes (compare-and-swap) and locks a state store."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass, replace
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


@dataclass(frozen=True)
class Version:
    """A state version with its original authorship, as ``state migrate`` copies it."""

    state: State
    written_at: str  # RFC 3339, or "" for now
    who: str
    operation: str


class DamagedStateError(StateError):
    """The current state version cannot be read; the message says which versions are kept and how to
    make one of them current (``state pull --serial N`` + ``state push FILE --force``)."""


def damaged_state_error(where: str, problem: str, kept: list[int], kept_in: str) -> DamagedStateError:
    """The one message for a damaged current state, naming the kept versions and the recovery commands."""
    text = f"the current state in {where} is damaged ({problem}); nothing was changed. "
    if kept:
        newest = max(kept)
        span = f"serial {kept[0]}" if len(kept) == 1 else f"serials {min(kept)} to {newest}"
        text += (
            f"Earlier versions are kept in {kept_in} ({span}). To recover: list them with "
            f"`lorainfra state history`, check one with `lorainfra state pull --serial {newest}`, then "
            f"make it current with `lorainfra state pull --serial {newest} > restored.json` and "
            "`lorainfra state push restored.json --force` (the damaged version is kept aside; run these in "
            "the config folder, or add --dir FOLDER)"
        )
    else:
        text += (
            "No earlier version is kept: put back a copy from your own backups with "
            "`lorainfra state push FILE --force`, or move the damaged state away and bring the live "
            "objects back under management with `lorainfra import`"
        )
    return DamagedStateError(text)


def not_damaged_error(where: str, current: State | None) -> StateError:
    """``restore`` called while the current version is readable (or absent)."""
    now = f"serial {current.serial}" if current is not None else "no state yet"
    return StateError(
        f"{where} is not damaged ({now}): there is nothing to restore; push the file without --force, "
        "or with it to go back to an older serial"
    )


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


def landed_retry(state: State, base: int, current: State | None) -> State | None:
    """The stored version, when writing ``state`` on ``base`` (from ``write_base``) repeats the writer's own
    write that already landed (one serial up, otherwise equal): then there is nothing new to store."""
    if current is not None and base != state.serial and current == replace(state, serial=base):
        return current
    return None


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

    def restore(self, state: State, *, operation: str = "") -> State:
        """Replace a damaged current version (one ``read()`` refuses with DamagedStateError) by ``state``.

        ``state`` must be of the lineage of the versions kept. It is stored above every serial the
        store has seen and returned; the damaged version is kept aside. Refused when the current
        version is readable (use ``write``).
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

    def lock_lost(self) -> str | None:
        """Why the lock this instance took is no longer held (None while it is, or when none was taken).

        Cheap enough to ask before every operation: local, two ``stat`` calls; postgres, one round
        trip on the lock's own connection. A run told its lock is lost must start nothing new.
        """
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
