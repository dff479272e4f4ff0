"""Fixtures for the state-backend conformance suite: one ``store`` per backend kind.

A ``Store`` makes any number of backend instances on the same underlying store (same file / same
database schema and workspace), as separate processes or users would, and can describe itself to a
subprocess. Postgres stores need ``LORAINFRA_TEST_PG_DSN``; each test gets its own schema.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from lorainfra.state.backend import StateBackend

PG_ENV = "LORAINFRA_TEST_PG_DSN"
PG_SKIP = "no PostgreSQL: set LORAINFRA_TEST_PG_DSN (scripts/pg-test-server starts one)"
ROOT = Path(__file__).resolve().parents[2]

# Runs in a child process: build the backend from the JSON spec in argv[1], then act.
CHILD = r"""
import json, sys, time
from dataclasses import replace
spec = json.loads(sys.argv[1])
action = sys.argv[2]
if spec["kind"] == "local":
    from lorainfra.state.local import LocalBackend
    backend = LocalBackend(__import__("pathlib").Path(spec["path"]), who=spec["who"])
else:
    from lorainfra.state.postgres import PostgresBackend
    backend = PostgresBackend(spec["dsn"], spec["workspace"], who=spec["who"])
if action == "hold-lock":
    with backend.lock("apply"):
        print("locked", flush=True)
        time.sleep(600)
elif action == "write-loop":
    from lorainfra.state.model import ResourceState
    state = backend.read()
    print("writing", flush=True)
    while True:
        big = {"blob": "x" * 200_000, "n": state.serial}
        state = backend.write(state.with_resource(ResourceState(
            address="deployment.big", kind="deployment", remote_name="r", attributes=big)), operation="loop")
"""


@dataclass
class Store:
    """Factory for backend instances sharing one store."""

    kind: str
    make: Callable[[str], StateBackend]
    spec: dict[str, Any]
    path: Path | None = None  # local only
    children: list[subprocess.Popen[str]] = field(default_factory=list)

    def new(self, who: str = "alice@host (pid 1)") -> StateBackend:
        return self.make(who)

    def child(self, action: str, who: str = "child@host (pid ?)") -> subprocess.Popen[str]:
        """Start a subprocess using this store; returns once it printed its first line."""
        spec = dict(self.spec, who=who)
        proc = subprocess.Popen(
            [sys.executable, "-c", CHILD, json.dumps(spec), action],
            stdout=subprocess.PIPE,
            text=True,
            cwd=ROOT,
            env={**os.environ, "PYTHONPATH": str(ROOT)},
        )
        self.children.append(proc)
        assert proc.stdout is not None
        line = proc.stdout.readline()
        assert line.strip() in ("locked", "writing"), f"child said {line!r}"
        return proc


def fixed_clock() -> datetime:
    return datetime(2024, 5, 1, 12, 0, 0, tzinfo=UTC)


@pytest.fixture
def local_store(tmp_path: Path) -> Iterator[Store]:
    from lorainfra.state.local import LocalBackend

    path = tmp_path / "cfg" / ".lorainfra" / "state.json"
    store = Store(
        kind="local",
        make=lambda who: LocalBackend(path, who=who, clock=fixed_clock),
        spec={"kind": "local", "path": str(path)},
        path=path,
    )
    yield store
    _reap(store)


@pytest.fixture
def pg_dsn() -> Iterator[str]:
    """A DSN whose search_path is a fresh schema, dropped afterwards."""
    base = os.environ.get(PG_ENV)
    if not base:
        pytest.skip(PG_SKIP)
    import psycopg
    from psycopg.conninfo import make_conninfo

    schema = f"lorainfra_test_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(base, autocommit=True) as conn:
        conn.execute(f'CREATE SCHEMA "{schema}"')
    try:
        yield make_conninfo(base, options=f"-c search_path={schema}")
    finally:
        with psycopg.connect(base, autocommit=True) as conn:
            conn.execute(f'DROP SCHEMA "{schema}" CASCADE')


@pytest.fixture
def postgres_store(pg_dsn: str) -> Iterator[Store]:
    from lorainfra.state.postgres import PostgresBackend

    workspace = f"ws-{uuid.uuid4().hex[:8]}"
    store = Store(
        kind="postgres",
        make=lambda who: PostgresBackend(pg_dsn, workspace, who=who, clock=fixed_clock),
        spec={"kind": "postgres", "dsn": pg_dsn, "workspace": workspace},
    )
    yield store
    _reap(store)


@pytest.fixture(params=["local", pytest.param("postgres", marks=pytest.mark.postgres)])
def store(request: pytest.FixtureRequest) -> Store:
    """Each conformance test runs once per backend kind."""
    return request.getfixturevalue(f"{request.param}_store")


def _reap(store: Store) -> None:
    for proc in store.children:
        if proc.poll() is None:
            proc.kill()
        proc.wait(timeout=10)
        if proc.stdout:
            proc.stdout.close()
