"""Local backend and symbolic links: no file lorainfra keeps for the state is ever followed (issue 13, items 3-4).

A link planted where lorainfra keeps its state, backups, history or lock files must not make it read,
truncate or replace another file: every such link is refused with an error that says why.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from lorainfra.errors import StateError
from lorainfra.state.model import ResourceState, State

if TYPE_CHECKING:
    from conftest import Store

VICTIM_TEXT = "precious data, not a lock record\n"


def victim(tmp_path: Path) -> Path:
    path = tmp_path / "victim.txt"
    path.write_text(VICTIM_TEXT)
    return path


def bump(state: State, i: int) -> State:
    return state.with_resource(ResourceState(address=f"lora.l{i}", kind="lora", remote_name=f"r{i}"))


def test_lock_file_symlink_is_refused_and_its_target_untouched(local_store: Store, tmp_path: Path) -> None:
    path = local_store.path
    assert path is not None
    target = victim(tmp_path)
    path.parent.mkdir(parents=True)
    lock = path.with_name("state.json.lock")
    lock.symlink_to(target)
    backend = local_store.new()
    with pytest.raises(StateError, match="symbolic link") as info, backend.lock("apply"):
        pass
    assert str(lock) in str(info.value)
    assert target.read_text() == VICTIM_TEXT
    for call in (backend.lock_holder, lambda: backend.force_unlock("whatever")):
        with pytest.raises(StateError, match="symbolic link"):
            call()
    assert target.read_text() == VICTIM_TEXT and lock.is_symlink()


def test_dangling_lock_symlink_is_refused_and_nothing_is_created(local_store: Store, tmp_path: Path) -> None:
    path = local_store.path
    assert path is not None
    path.parent.mkdir(parents=True)
    target = tmp_path / "created-by-lorainfra.txt"
    path.with_name("state.json.lock").symlink_to(target)
    with pytest.raises(StateError, match="symbolic link"), local_store.new().lock("apply"):
        pass
    assert not target.exists()


def test_write_mutex_symlink_is_refused_and_its_target_untouched(local_store: Store, tmp_path: Path) -> None:
    path = local_store.path
    assert path is not None
    target = victim(tmp_path)
    path.parent.mkdir(parents=True)
    path.with_name("state.json.write.lock").symlink_to(target)
    with pytest.raises(StateError, match="symbolic link"):
        local_store.new().write(State.new())
    assert target.read_text() == VICTIM_TEXT
    assert not path.exists()


def test_state_file_symlink_is_refused_for_reads_and_writes(local_store: Store, tmp_path: Path) -> None:
    path = local_store.path
    assert path is not None
    real = tmp_path / "elsewhere" / "state.json"
    real.parent.mkdir()
    stored = State.new().next_serial()
    real.write_text(stored.dumps())
    path.parent.mkdir(parents=True)
    path.symlink_to(real)
    backend = local_store.new()
    for call in (backend.read, lambda: backend.write(stored), lambda: list(backend.history()),
                 lambda: backend.read_serial(1)):
        with pytest.raises(StateError, match="symbolic link") as info:
            call()
        assert "state.path" in str(info.value)  # says what to do instead
    assert path.is_symlink() and os.readlink(path) == str(real)  # not replaced by a regular file
    assert real.read_text() == stored.dumps()


def test_backup_and_history_symlinks_are_refused_and_their_targets_untouched(
    local_store: Store, tmp_path: Path
) -> None:
    path = local_store.path
    assert path is not None
    backend = local_store.new()
    state = backend.write(State.new())  # serial 1
    backup_dir = path.with_name("state.json.backup")
    target = victim(tmp_path)
    (backup_dir / "1.json").symlink_to(target)  # the next write keeps serial 1 there
    with pytest.raises(StateError, match="symbolic link"):
        backend.write(bump(state, 1))
    assert target.read_text() == VICTIM_TEXT
    assert backend.read() == state  # the write did not happen
    (backup_dir / "1.json").unlink()
    (backup_dir / "history.jsonl").unlink()
    (backup_dir / "history.jsonl").symlink_to(target)
    with pytest.raises(StateError, match="symbolic link"):
        backend.write(bump(state, 1))
    assert target.read_text() == VICTIM_TEXT
    assert backend.read() == state


def test_backup_folder_symlink_is_refused(local_store: Store, tmp_path: Path) -> None:
    path = local_store.path
    assert path is not None
    backend = local_store.new()
    state = backend.write(State.new())
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    shutil.rmtree(path.with_name("state.json.backup"))
    path.with_name("state.json.backup").symlink_to(elsewhere, target_is_directory=True)
    with pytest.raises(StateError, match="symbolic link"):
        backend.write(bump(state, 1))
    assert list(elsewhere.iterdir()) == []
    assert backend.read() == state


def test_a_symlinked_parent_folder_is_followed(local_store: Store, tmp_path: Path) -> None:
    """Only the files themselves are refused as links: ``.lorainfra`` may live on another disk."""
    path = local_store.path
    assert path is not None
    real_dir = tmp_path / "real-lorainfra"
    real_dir.mkdir()
    path.parent.parent.mkdir(parents=True)
    path.parent.symlink_to(real_dir, target_is_directory=True)
    backend = local_store.new()
    state = backend.write(State.new())
    state = backend.write(bump(state, 1))
    with backend.lock("apply"):
        assert backend.read() == state
    assert (real_dir / "state.json").read_text() == state.dumps()


def test_a_hard_linked_lock_file_is_refused_and_its_other_name_untouched(local_store: Store, tmp_path: Path) -> None:
    """The lock record is rewritten in place: a second name for that file would be overwritten too."""
    path = local_store.path
    assert path is not None
    target = victim(tmp_path)
    path.parent.mkdir(parents=True)
    os.link(target, path.with_name("state.json.lock"))
    with pytest.raises(StateError, match="hard link"), local_store.new().lock("apply"):
        pass
    assert target.read_text() == VICTIM_TEXT


def test_a_fifo_or_folder_in_place_of_a_state_file_is_a_clear_error(local_store: Store) -> None:
    path = local_store.path
    assert path is not None
    path.parent.mkdir(parents=True)
    os.mkfifo(path.with_name("state.json.lock"))
    with pytest.raises(StateError, match="not a regular file"), local_store.new().lock("apply"):
        pass
    path.mkdir()
    with pytest.raises(StateError, match="not a regular file"):
        local_store.new().read()
