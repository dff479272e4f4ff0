"""Journal: the only state writer during apply. Group commit, and the clock it is given."""

from __future__ import annotations

import asyncio
import threading
from datetime import UTC, datetime
from typing import Any

from lorainfra.engine.journal import Journal
from lorainfra.state.model import ResourceState, State


class GatedBackend:
    """A backend whose first write waits until the test opens the gate; records every write."""

    def __init__(self) -> None:
        self.writes: list[State] = []
        self.started = threading.Event()
        self.gate = threading.Event()

    def read(self) -> State | None:
        return self.writes[-1] if self.writes else None

    def write(self, state: State, *, operation: str = "") -> State:
        self.started.set()
        self.gate.wait(timeout=60)
        written = state.next_serial()
        self.writes.append(written)
        return written


def entry(name: str) -> ResourceState:
    return ResourceState(f"deployment.{name}", "deployment", f"accounts/a/deployments/{name}")


def test_edits_made_while_a_write_is_in_flight_share_the_next_write() -> None:
    backend = GatedBackend()

    async def go() -> Journal:
        journal = Journal(backend, State.new("lin"), operation="apply")  # type: ignore[arg-type]
        first = asyncio.ensure_future(journal.commit(lambda s: s.with_resource(entry("a"))))
        await asyncio.to_thread(backend.started.wait, 60)  # the first write is in flight
        rest = [asyncio.ensure_future(journal.commit(lambda s, n=n: s.with_resource(entry(n)))) for n in "bcd"]
        await asyncio.sleep(0)  # let them queue behind the first write (no waiting on time: one loop turn)
        backend.gate.set()
        await asyncio.gather(first, *rest)
        return journal

    journal = asyncio.run(go())
    assert [sorted(w.resources) for w in backend.writes] == [
        ["deployment.a"], ["deployment.a", "deployment.b", "deployment.c", "deployment.d"]]
    assert journal.state.serial == 2 and sorted(journal.state.resources) == sorted(backend.writes[-1].resources)


def test_without_a_backend_edits_move_the_serial_on() -> None:
    async def go() -> State:
        journal = Journal(None, State.new("lin"), operation="apply")
        await journal.commit(lambda s: s.with_resource(entry("a")))
        await journal.commit(lambda s: s)
        return journal.state

    assert asyncio.run(go()).serial == 2


def test_open_writes_a_new_document_once_and_on_demand() -> None:
    backend = GatedBackend()
    backend.gate.set()

    async def go(**kw: Any) -> None:
        journal = Journal(backend, backend.read() or State.new("lin"), operation="apply")  # type: ignore[arg-type]
        await journal.open(**kw)

    asyncio.run(go())
    asyncio.run(go())  # the document exists: nothing written
    asyncio.run(go(force=True))  # resolved pending operations: written even so
    assert [w.serial for w in backend.writes] == [1, 2]


def test_pending_timestamps_come_from_the_injected_clock() -> None:
    journal = Journal(None, State.new("lin"), operation="apply", clock=lambda: datetime(2030, 1, 2, 3, 4, 5, tzinfo=UTC))
    assert journal.now() == "2030-01-02T03:04:05Z"
