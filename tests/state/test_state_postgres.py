"""PostgreSQL backend specifics: workspaces, schema migrations, full history, DSN masking."""

from __future__ import annotations

import sys
import uuid
from typing import TYPE_CHECKING

import pytest

from lorainfra.errors import LockError, StateError
from lorainfra.state import postgres as pg_mod
from lorainfra.state.model import ResourceState, State
from lorainfra.state.postgres import PostgresBackend, mask_dsn

if TYPE_CHECKING:
    from conftest import Store


@pytest.mark.postgres
def test_workspaces_share_a_database_without_touching_each_other(pg_dsn: str) -> None:
    a = PostgresBackend(pg_dsn, "team-a", who="a")
    b = PostgresBackend(pg_dsn, "team-b", who="b")
    sa = a.write(State.new("lineage-a"))
    assert b.read() is None
    sb = b.write(State.new("lineage-b"))
    sb = b.write(sb)
    assert a.read() == sa and b.read() == sb
    assert [h.serial for h in a.history()] == [1]
    assert [h.serial for h in b.history()] == [1, 2]
    with a.lock("apply"), b.lock("apply"):  # independent locks
        assert a.lock_holder() is not None and b.lock_holder() is not None
        with pytest.raises(LockError), PostgresBackend(pg_dsn, "team-a", who="c").lock("plan"):
            pass


@pytest.mark.postgres
def test_history_keeps_every_version(postgres_store: Store) -> None:
    backend = postgres_store.new()
    state = backend.write(State.new())
    versions = [state]
    for i in range(59):
        state = backend.write(
            state.with_resource(ResourceState(address=f"lora.l{i}", kind="lora", remote_name=f"r{i}"))
        )
        versions.append(state)
    assert [h.serial for h in backend.history()] == list(range(1, 61))
    assert all(backend.read_serial(v.serial) == v for v in versions)


@pytest.mark.postgres
def test_schema_is_versioned_and_migrations_run_once(pg_dsn: str) -> None:
    import psycopg

    PostgresBackend(pg_dsn, "w", who="x").read()
    PostgresBackend(pg_dsn, "w", who="x").read()
    with psycopg.connect(pg_dsn) as conn:
        rows = conn.execute("SELECT version FROM lorainfra_schema_version ORDER BY version").fetchall()
        assert [r[0] for r in rows] == list(range(1, pg_mod.SCHEMA_VERSION + 1))
        conn.execute("INSERT INTO lorainfra_schema_version VALUES (%s)", (pg_mod.SCHEMA_VERSION + 1,))
    with pytest.raises(StateError, match="newer than this lorainfra"):
        PostgresBackend(pg_dsn, "w", who="x").read()


@pytest.mark.postgres
def test_force_unlock_ends_a_live_holder_session(postgres_store: Store) -> None:
    holder_backend = postgres_store.new("stuck")
    other = postgres_store.new("rescuer")
    with holder_backend.lock("apply") as info:
        other.force_unlock(info.id)
        assert other.lock_holder() is None
        with other.lock("apply") as mine:
            assert mine.who == "rescuer"
    # the terminated holder's release did not raise, and did not remove the new holder's row
    assert other.lock_holder() is None


def test_password_never_appears_in_errors() -> None:
    dsn = "postgresql://alice:s3cr3t-pw@127.0.0.1:1/nodb?connect_timeout=2"
    backend = PostgresBackend(dsn, "w", who="x")
    assert "s3cr3t-pw" not in backend.describe()
    with pytest.raises(StateError) as caught:
        backend.read()
    assert "s3cr3t-pw" not in str(caught.value)
    assert "cannot connect" in str(caught.value)


@pytest.mark.parametrize(
    ("dsn", "masked"),
    [
        ("postgresql://u:pw@h:5/db", "postgresql://u:***@h:5/db"),
        (
            "postgresql://u@h/db?password=pw&sslmode=require",
            "postgresql://u@h/db?password=***&sslmode=require",
        ),
        ("host=h user=u password=pw dbname=d", "host=h user=u password=*** dbname=d"),
        ("host=h password='p w' dbname=d", "host=h password=*** dbname=d"),
        ("postgresql://h/db", "postgresql://h/db"),
    ],
)
def test_mask_dsn(dsn: str, masked: str) -> None:
    assert mask_dsn(dsn) == masked


def test_missing_psycopg_says_what_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "psycopg", None)
    backend = PostgresBackend("postgresql://h/db", f"w-{uuid.uuid4().hex[:4]}", who="x")
    with pytest.raises(StateError, match=r"install lorainfra\[postgres\]"):
        backend.read()


@pytest.mark.postgres
def test_nul_character_is_refused_cleanly(postgres_store: Store) -> None:
    state = State.new().with_resource(
        ResourceState(address="lora.n", kind="lora", remote_name="r", attributes={"x": "a\x00b"})
    )
    with pytest.raises(StateError, match="write state"):
        postgres_store.new().write(state)
