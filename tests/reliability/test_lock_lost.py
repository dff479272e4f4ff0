"""A run that loses its state lock (PostgreSQL restarted, lock file removed) stops starting operations and
says so (issue 13, item 9)."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import pytest

from lorainfra.emulator import Emulator, EmulatorOptions
from lorainfra.engine.applier import Applier, ApplyResult
from lorainfra.engine.events import Event, ListSink, OperationFinished, OperationStarted
from lorainfra.state.backend import StateBackend
from lorainfra.state.local import LocalBackend
from lorainfra.state.lockfile import retry_until
from lorainfra.state.model import State
from tests.reliability.kit import FAST, make_config, plan_async, provider_for


class LoseOnFirstFinish(ListSink):
    """Calls ``lose`` when the first operation finishes: what is still to start must not start."""

    def __init__(self, lose: Callable[[], None]) -> None:
        super().__init__()
        self.lose: Callable[[], None] | None = lose

    def emit(self, event: Event) -> None:
        super().emit(event)
        if isinstance(event, OperationFinished) and self.lose is not None:
            lose, self.lose = self.lose, None
            lose()


class Clock:
    """The monotonic clock, moved on by ``skip``: the applier asks the backend about its lock at most once per
    ``lock_check_interval`` of this clock, so the test moves it past one interval when the lock is lost."""

    def __init__(self) -> None:
        self.offset = 0.0

    def __call__(self) -> float:
        return time.monotonic() + self.offset

    def skip(self, seconds: float) -> None:
        self.offset += seconds


def run_losing_lock(tmp_path: Path, backend: StateBackend, lose: Callable[[], None]) -> tuple[ApplyResult, ListSink]:
    folder = make_config(tmp_path / "cfg", ready_after=0.05)
    emu = Emulator(tmp_path / "emu.db", EmulatorOptions(ready_after=0.05, deployed_after=0.05))
    clock = Clock()
    options = replace(FAST, clock=clock)

    def lose_and_let_an_interval_pass() -> None:
        lose()
        clock.skip(options.lock_check_interval)

    async def go() -> tuple[ApplyResult, ListSink]:
        provider = provider_for(emu)
        try:
            planned = await plan_async(folder, provider)
            sink = LoseOnFirstFinish(lose_and_let_an_interval_pass)
            with backend.lock("apply"):
                result = await Applier(provider, backend, State.new(), sink, options).run(planned.plan)
            return result, sink
        finally:
            await provider.aclose()

    try:
        return asyncio.run(go())
    finally:
        emu.close()


def check(result: ApplyResult, sink: ListSink) -> None:
    started = {e.address for e in sink.events if isinstance(e, OperationStarted)}
    # the LoRAs on shared-base can only start after it finished, i.e. after the lock was lost
    assert not started & {"lora.faq-bot", "lora.support-bot"}, started
    refused = [(label, reason) for label, reason in result.failed if "lock" in reason]
    assert refused and all("lost" in reason and "not started" in reason for _, reason in refused)
    assert not result.ok
    assert {label.split(" ")[0] for label, _ in result.failed} | {label.split(" ")[0] for label, _ in result.skipped} >= {
        "lora.faq-bot", "lora.support-bot"}


def test_apply_stops_starting_operations_when_the_lock_file_is_removed(tmp_path: Path) -> None:
    backend = LocalBackend(tmp_path / "cfg" / ".lorainfra" / "state.json", who="test")
    result, sink = run_losing_lock(tmp_path, backend, lambda: backend.lock_path.unlink())
    check(result, sink)
    # the state still records every operation that did run
    state = backend.read()
    assert state is not None
    assert {e.address for e in sink.events if isinstance(e, OperationFinished) and e.ok} <= set(state.resources)


@pytest.mark.postgres
def test_apply_stops_starting_operations_when_postgres_drops_the_lock_connection(tmp_path: Path, pg_dsn: str) -> None:
    import psycopg
    from psycopg.conninfo import make_conninfo

    from lorainfra.state.postgres import PostgresBackend

    schema = f"lorainfra_test_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(pg_dsn, autocommit=True) as conn:
        conn.execute(f'CREATE SCHEMA "{schema}"')
    try:
        dsn = make_conninfo(pg_dsn, options=f"-c search_path={schema}")
        backend = PostgresBackend(dsn, "ws", who="test")

        def restart_drops_lock() -> None:  # the server ends the lock's session, as a restart does
            with psycopg.connect(pg_dsn, autocommit=True) as conn:
                pids = [r[0] for r in conn.execute(
                    "SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND granted AND pid <> pg_backend_pid()"
                ).fetchall()]
                assert len(pids) == 1
                conn.execute("SELECT pg_terminate_backend(%s)", (pids[0],))
                # wait (on the condition, bounded) until that session has really gone
                assert retry_until(lambda: not conn.execute(
                    "SELECT count(*) FROM pg_stat_activity WHERE pid = %s", (pids[0],)).fetchone()[0], 10.0)

        result, sink = run_losing_lock(tmp_path, backend, restart_drops_lock)
        check(result, sink)
    finally:
        with psycopg.connect(pg_dsn, autocommit=True) as conn:
            conn.execute(f'DROP SCHEMA "{schema}" CASCADE')


class Counting(LocalBackend):
    def __init__(self, path: Path) -> None:
        super().__init__(path, who="test")
        self.asked = 0

    def lock_lost(self) -> str | None:
        self.asked += 1
        return super().lock_lost()


def test_the_lock_is_asked_about_once_per_interval_not_once_per_operation(tmp_path: Path) -> None:
    # issue 16: every step asked the backend (a thread hop and a syscall, or a database round trip, each);
    # with the clock standing still every step of the apply starts inside one interval: one ask
    backend = Counting(tmp_path / "cfg" / ".lorainfra" / "state.json")
    folder = make_config(tmp_path / "cfg", ready_after=0.0)
    emu = Emulator(tmp_path / "emu.db", EmulatorOptions(ready_after=0.0, deployed_after=0.0))

    async def go() -> ApplyResult:
        provider = provider_for(emu)
        try:
            planned = await plan_async(folder, provider)
            with backend.lock("apply"):
                return await Applier(provider, backend, State.new(), ListSink(), replace(FAST, clock=lambda: 0.0)).run(
                    planned.plan)
        finally:
            await provider.aclose()

    try:
        result = asyncio.run(go())
    finally:
        emu.close()
    assert result.ok and len(result.applied) >= 4, result
    assert backend.asked == 1
