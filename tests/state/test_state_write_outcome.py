"""A state write and its history succeed or fail as one, and a retry sees its own write (issue 13, item 6)."""

from __future__ import annotations

import contextlib
import errno
import os
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import pytest

from lorainfra.errors import StateError
from lorainfra.state import files as files_mod
from lorainfra.state.backend import StateBackend
from lorainfra.state.model import ResourceState, State

if TYPE_CHECKING:
    from conftest import Store


def bump(state: State, i: int) -> State:
    return state.with_resource(ResourceState(address=f"lora.l{i}", kind="lora", remote_name=f"r{i}"))


def test_history_failure_fails_the_whole_write_and_the_retry_succeeds(local_store: Store) -> None:
    path = local_store.path
    assert path is not None
    backend = local_store.new()
    base = backend.write(State.new())
    history = path.with_name("state.json.backup") / "history.jsonl"
    history.unlink()
    history.mkdir()  # the history can no longer be replaced
    with pytest.raises(StateError, match=r"history\.jsonl"):
        backend.write(bump(base, 1))
    assert backend.read() == base  # the state did not move on without its history
    history.rmdir()
    written = backend.write(bump(base, 1))  # a retry from the same base: no "changed by another writer"
    assert written.serial == base.serial + 1
    assert [(h.serial, h.operation) for h in backend.history()][-1] == (written.serial, "")
    assert backend.read() == written


def fail_after_commit(store: Store, backend: StateBackend, monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Make the next write land, then report an error (a lost fsync or a lost COMMIT answer)."""
    fired: list[int] = []
    if store.kind == "local":
        real = files_mod.fsync_dir

        def fsync_dir(folder: Any) -> None:
            if not fired and store.path is not None and folder == store.path.parent:  # after the rename
                fired.append(1)
                raise OSError(errno.EIO, "Input/output error")
            real(folder)

        monkeypatch.setattr(files_mod, "fsync_dir", fsync_dir)
    else:
        real_connect = backend._connect  # type: ignore[attr-defined]

        @contextlib.contextmanager
        def connect(doing: str, **kw: Any) -> Iterator[Any]:
            with real_connect(doing, **kw) as conn:
                yield conn
            if doing == "write state" and not fired:
                fired.append(1)
                raise StateError("postgres state backend: write state: server closed the connection")

        monkeypatch.setattr(backend, "_connect", connect)
    return fired


def test_a_write_that_landed_but_reported_an_error_is_seen_by_its_retry(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    backend = store.new()
    base = backend.write(State.new())
    fired = fail_after_commit(store, backend, monkeypatch)
    first = bump(base, 1)
    with pytest.raises(StateError):
        backend.write(first)
    assert fired
    landed = store.new().read()
    assert landed is not None and landed.serial == base.serial + 1  # it did land
    # The writer still believes the store is at base.serial; its next write (with more changes)
    # goes on top of its own landed version instead of failing with "changed by another writer".
    written = backend.write(bump(first, 2))
    assert written.serial == base.serial + 2
    assert set(store.new().read().resources) == {"lora.l1", "lora.l2"}  # type: ignore[union-attr]
    # Exactly the same write again (a plain retry) adds no version.
    again = store.new()
    assert [h.serial for h in again.history()] == [1, 2, 3]
    # Another writer holding the old base is still refused: only one's own write is recognised.
    with pytest.raises(StateError, match="another writer"):
        store.new().write(bump(base, 9))


def test_a_plain_retry_of_a_landed_write_stores_nothing_new(store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    backend = store.new()
    base = backend.write(State.new())
    fail_after_commit(store, backend, monkeypatch)
    with pytest.raises(StateError):
        backend.write(bump(base, 1))
    written = backend.write(bump(base, 1))
    assert written.serial == base.serial + 1
    assert written == store.new().read()
    assert [h.serial for h in store.new().history()] == [1, 2]


def test_history_symlink_does_not_let_the_state_move_on(local_store: Store, tmp_path: Any) -> None:
    path = local_store.path
    assert path is not None
    backend = local_store.new()
    base = backend.write(State.new())
    history = path.with_name("state.json.backup") / "history.jsonl"
    history.unlink()
    os.symlink(tmp_path / "elsewhere.jsonl", history)
    with pytest.raises(StateError, match="symbolic link"):
        backend.write(bump(base, 1))
    assert backend.read() == base
