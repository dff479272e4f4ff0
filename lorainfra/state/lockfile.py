"""Lock helpers shared by the state backends: lock records, timestamps and the LockError message."""

from __future__ import annotations

import getpass
import json
import os
import socket
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from lorainfra.errors import LockError
from lorainfra.state.backend import LockInfo

Clock = Callable[[], datetime]

POLL_INTERVAL = 0.05  # seconds between lock attempts while waiting


def retry_until(
    attempt: Callable[[], bool],
    timeout: float,
    *,
    interval: float = POLL_INTERVAL,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> bool:
    """Call ``attempt`` until it returns True (then True) or ``timeout`` seconds have passed (then False).

    The one wait loop of the state backends (session locks, the write mutex, a holder's record, a
    terminated session's exit). Tries at least once, sleeps ``interval`` between tries and never
    past the deadline.
    """
    deadline = clock() + timeout
    while not attempt():
        remaining = deadline - clock()
        if remaining <= 0:
            return False
        sleep(min(interval, remaining))
    return True


def utc_now() -> datetime:
    return datetime.now(UTC)


def rfc3339(moment: datetime) -> str:
    """``2024-05-01T12:00:00.123Z``: UTC, millisecond precision (naive datetimes are taken as UTC)."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def default_who() -> str:
    """``user@host (pid N)``: who holds a lock or wrote a state version."""
    try:
        user = getpass.getuser()
    except Exception:  # no passwd entry / no USER variable (containers)
        user = f"uid{os.getuid()}"
    return f"{user}@{socket.gethostname()} (pid {os.getpid()})"


def lock_to_json(info: LockInfo) -> dict[str, Any]:
    return {"id": info.id, "who": info.who, "operation": info.operation, "created": info.created}


def lock_from_json(text: str) -> LockInfo | None:
    """The lock record in ``text``, or None when it is empty or unreadable (being written / cleared)."""
    try:
        data = json.loads(text)
        return LockInfo(
            id=str(data["id"]),
            who=str(data["who"]),
            operation=str(data["operation"]),
            created=str(data["created"]),
        )
    except (ValueError, TypeError, KeyError):
        return None


UNKNOWN_HOLDER = LockInfo(id="unknown", who="an unknown process", operation="unknown", created="unknown")


def lock_error(info: LockInfo | None, waited: float) -> LockError:
    """The error a user sees when the lock is taken: who, since when, for what, and what to do."""
    holder = info or UNKNOWN_HOLDER
    after = f" (waited {waited:g}s)" if waited > 0 else ""
    unlock = f"run `lorainfra force-unlock {holder.id}`" if info else "run `lorainfra force-unlock <id>`"
    return LockError(
        f"state is locked{after}: {holder.describe()}; "
        f"wait, or pass --lock-timeout 30s, or {unlock} if that process is gone"
    )
