"""Local backend specifics: file format and mode, atomic replace, backups, the lock file."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from lorainfra.errors import LockError, StateError
from lorainfra.state import local as local_mod
from lorainfra.state.local import LocalBackend
from lorainfra.state.model import ResourceState, State

if TYPE_CHECKING:
    from conftest import Store


def bump(state: State, i: int) -> State:
    return state.with_resource(ResourceState(address=f"lora.l{i}", kind="lora", remote_name=f"r{i}"))


def test_file_is_sorted_json_mode_0600_in_created_dir(local_store: Store) -> None:
    path = local_store.path
    assert path is not None and not path.parent.exists()
    stored = local_store.new().write(State.new())
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    text = path.read_text()
    assert text == stored.dumps()
    assert list(json.loads(text)) == sorted(json.loads(text))
    backend = local_store.new()
    backend.write(stored)
    for backup in (path.parent / "state.json.backup").iterdir():
        assert stat.S_IMODE(backup.stat().st_mode) == 0o600
    with backend.lock("apply"):
        assert stat.S_IMODE((path.parent / "state.json.lock").stat().st_mode) == 0o600


def test_backups_keep_previous_versions_bounded_to_50(local_store: Store) -> None:
    backend = local_store.new()
    state = backend.write(State.new())
    for i in range(59):
        state = backend.write(bump(state, i))
    assert state.serial == 60
    backup_dir = local_store.path.parent / "state.json.backup"  # type: ignore[union-attr]
    names = sorted(p.name for p in backup_dir.iterdir() if p.name != "history.jsonl")
    assert len(names) == 50
    serials = [h.serial for h in backend.history()]
    assert serials == list(range(10, 61))
    assert backend.read_serial(9) is None
    assert backend.read_serial(10) is not None and backend.read_serial(10).serial == 10  # type: ignore[union-attr]


@pytest.mark.parametrize("crash_at", ["write", "fsync", "replace"])
def test_crash_during_write_keeps_the_old_file(
    local_store: Store, monkeypatch: pytest.MonkeyPatch, crash_at: str
) -> None:
    backend = local_store.new()
    old = backend.write(State.new())
    path = local_store.path
    assert path is not None

    class Crash(BaseException):
        pass

    real = {"write": os.write, "fsync": os.fsync, "replace": os.replace}

    def crash(*args: object) -> object:
        if crash_at == "write":
            real["write"](args[0], bytes(args[1])[:10])  # type: ignore[call-overload]
        raise Crash

    def fake(name: str):  # type: ignore[no-untyped-def]
        def call(*args: object) -> object:
            target = str(args[0]) if args else ""
            if name == "replace" and ".state.json." not in target:
                return real[name](*args)  # type: ignore[operator]
            return crash(*args)

        return call

    monkeypatch.setattr(local_mod.os, crash_at, fake(crash_at))
    with pytest.raises(Crash):
        backend.write(bump(old, 1))
    monkeypatch.undo()
    assert path.read_text() == old.dumps()
    assert local_store.new().read() == old
    new = backend.write(bump(old, 1))
    assert new.serial == 2
    assert not [p for p in path.parent.iterdir() if p.name.endswith(".tmp")]


def test_leftover_temp_file_of_killed_writer_is_removed(local_store: Store) -> None:
    backend = local_store.new()
    state = backend.write(State.new())
    path = local_store.path
    assert path is not None
    leftover = path.parent / ".state.json.abc123.tmp"
    leftover.write_text('{"half": ')
    assert backend.read() == state
    backend.write(state)
    assert not leftover.exists()


def test_lock_file_holds_lock_info_and_is_cleared_on_release(local_store: Store) -> None:
    backend = local_store.new("alice@host (pid 123)")
    lock_path = local_store.path.parent / "state.json.lock"  # type: ignore[union-attr]
    with backend.lock("apply") as info:
        record = json.loads(lock_path.read_text())
        assert record == {"id": info.id, "who": info.who, "operation": "apply", "created": info.created}
    assert lock_path.read_text() == ""  # kept (never unlinked while flock'd), emptied


def test_force_unlock_refuses_a_live_holder(local_store: Store) -> None:
    proc = local_store.child("hold-lock", who="alive")
    backend = local_store.new()
    holder = backend.lock_holder()
    assert holder is not None
    with pytest.raises(LockError, match="still holds the OS lock"):
        backend.force_unlock(holder.id)
    assert backend.lock_holder() == holder
    proc.kill()
    proc.wait(10)


def test_unreadable_state_file_is_a_state_error(local_store: Store) -> None:
    path = local_store.path
    assert path is not None
    path.parent.mkdir(parents=True)
    path.write_text("{not json")
    with pytest.raises(StateError, match=r"state\.json is damaged \(state is not valid JSON"):
        local_store.new().read()


def test_backup_of_another_lineage_is_set_aside(tmp_path: Path) -> None:
    path = tmp_path / "state.json"
    first = LocalBackend(path, who="a")
    s = first.write(State.new("lineage-a"))
    first.write(s)  # backup 1.json of lineage-a
    path.unlink()  # someone deleted the state and started over
    s2 = first.write(State.new("lineage-b"))
    first.write(s2)  # backs up 1.json of lineage-b: lineage-a's copy is kept aside
    names = sorted(p.name for p in (tmp_path / "state.json.backup").iterdir())
    assert "1.lineage-a.json" in names and "1.json" in names
    assert first.read_serial(1) is not None and first.read_serial(1).lineage == "lineage-b"  # type: ignore[union-attr]


def test_unwritable_location_is_a_state_error(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    backend = LocalBackend(blocker / "state.json", who="x")
    with pytest.raises(StateError, match="cannot"):
        backend.write(State.new())
    with pytest.raises(StateError, match="cannot"), backend.lock("apply"):
        pass
