"""``lock_lost()``: a run can ask, cheaply, whether the session lock it took is still its own (issue 13, item 9)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from lorainfra.state.backend import StateBackend
from lorainfra.state.lockfile import retry_until

if TYPE_CHECKING:
    from conftest import Store


def lose_lock(store: Store, backend: StateBackend) -> None:
    """What a PostgreSQL restart (or a removed lock file) does to a held lock."""
    if store.kind == "local":
        assert store.path is not None
        store.path.with_name("state.json.lock").unlink()
        return
    import psycopg

    with psycopg.connect(store.spec["dsn"], autocommit=True) as conn:
        pids = [r[0] for r in conn.execute(
            "SELECT pid FROM pg_stat_activity WHERE application_name = 'lorainfra' AND pid <> pg_backend_pid()"
            " AND pid IN (SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND granted)"
        ).fetchall()]
        assert len(pids) == 1
        conn.execute("SELECT pg_terminate_backend(%s)", (pids[0],))
        # the terminated session has gone once its advisory lock is released
        assert retry_until(lambda: not conn.execute(
            "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory'").fetchone()[0], 10.0), "session still holds it"


def test_a_held_lock_is_not_lost(store: Store) -> None:
    backend = store.new()
    assert backend.lock_lost() is None  # holding no lock: nothing to lose
    with backend.lock("apply"):
        assert backend.lock_lost() is None
        assert backend.lock_lost() is None
    assert backend.lock_lost() is None


def test_a_lost_lock_is_noticed_and_said_so(store: Store) -> None:
    backend = store.new()
    with backend.lock("apply") as info:
        lose_lock(store, backend)
        lost = backend.lock_lost()
        assert lost is not None and "lost" in lost and info.id in lost
        # another run can now take the lock: the loser must not start anything else
        with store.new("bob").lock("apply"):
            assert backend.lock_lost() is not None
    assert backend.lock_lost() is None  # released: nothing held, nothing lost
    with backend.lock("apply"):  # and it can be taken again
        assert backend.lock_lost() is None
