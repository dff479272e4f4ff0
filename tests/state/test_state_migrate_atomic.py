"""``state migrate`` is all or nothing (issue 13, item 8): a migrate killed midway leaves no
destination state that looks valid, and running it again completes it."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from lorainfra.errors import StateError
from lorainfra.state import local as local_mod
from lorainfra.state.backend import StateBackend
from lorainfra.state.local import LocalBackend
from lorainfra.state.model import ResourceState, State
from lorainfra.state.ops import migrate

if TYPE_CHECKING:
    from conftest import Store


class Killed(BaseException):
    """Stands for SIGKILL: nothing after it runs, no except clause catches it."""


def fill(backend: StateBackend, writes: int, *, nul_at: int = 0) -> list[State]:
    state = backend.write(State.new(), operation="apply 0")
    versions = [state]
    for i in range(1, writes):
        note = "\u0000" if i == nul_at else f"v{i}"  # postgres cannot store U+0000
        state = backend.write(
            state.with_resource(ResourceState(f"lora.l{i}", "lora", f"r{i}", attributes={"note": note})),
            operation=f"apply {i}",
        )
        versions.append(state)
    return versions


def kill_on_store_step(store: Store, backend: StateBackend, step: int, monkeypatch: pytest.MonkeyPatch) -> None:
    """Raise Killed at the ``step``-th file replace (local) or row insert (postgres) of ``backend``."""
    calls = [0]
    if store.kind == "local":
        real = local_mod.atomic_write

        def atomic_write(path: Path, text: str) -> None:
            if store.path is not None and store.path.parent in (path.parent, path.parent.parent):
                calls[0] += 1
                if calls[0] == step:
                    raise Killed
            real(path, text)

        monkeypatch.setattr(local_mod, "atomic_write", atomic_write)
    else:
        real_insert = backend._insert  # type: ignore[attr-defined]

        def insert(*args: Any, **kw: Any) -> None:
            calls[0] += 1
            if calls[0] == step:
                raise Killed
            real_insert(*args, **kw)

        monkeypatch.setattr(backend, "_insert", insert)


@pytest.mark.parametrize("step", [2, 9, 20])
def test_a_migrate_killed_midway_leaves_nothing_that_looks_valid(
    store: Store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, step: int
) -> None:
    src = LocalBackend(tmp_path / "src" / "state.json", who="alice")
    versions = fill(src, 24)
    dst = store.new("migrator")
    kill_on_store_step(store, dst, step, monkeypatch)
    with pytest.raises(Killed):
        migrate(src, dst, lock=False)
    monkeypatch.undo()
    fresh = store.new()
    assert fresh.read() is None  # no partial copy that `plan` or `apply` would take for the state
    result = migrate(src, fresh)  # running it again completes the copy
    assert result.serial == 24 and fresh.read() == versions[-1]
    assert [h.serial for h in fresh.history()] == list(range(1, 25))
    assert fresh.read_serial(9) == versions[8]


@pytest.mark.postgres
def test_a_version_postgres_refuses_fails_the_whole_migrate(
    postgres_store: Store, tmp_path: Path
) -> None:
    src = LocalBackend(tmp_path / "src" / "state.json", who="alice")
    fill(src, 30, nul_at=20)  # versions 21 to 30 hold U+0000 (version 21 added it)
    dst = postgres_store.new()
    with pytest.raises(StateError):
        migrate(src, dst)
    assert dst.read() is None and list(dst.history()) == []


def test_a_killed_catch_up_keeps_the_destination_at_its_old_version(
    store: Store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    src = LocalBackend(tmp_path / "src" / "state.json", who="alice")
    versions = fill(src, 5)
    dst = store.new()
    migrate(src, dst)
    state = versions[-1]
    for i in range(5, 15):
        state = src.write(state.with_resource(ResourceState(f"lora.m{i}", "lora", f"m{i}")))
    kill_on_store_step(store, dst, 4, monkeypatch)
    with pytest.raises(Killed):
        migrate(src, dst, lock=False)
    monkeypatch.undo()
    assert store.new().read() == versions[-1]  # still the complete old copy, not serial 8 of 15
    assert migrate(src, store.new()).serial == 15
