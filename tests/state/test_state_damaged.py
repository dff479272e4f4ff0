"""Damaged current state does not block recovery (issue 13, item 7): the backend level, both backends."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from lorainfra.errors import StateError
from lorainfra.state.backend import DamagedStateError
from lorainfra.state.model import ResourceState, State

if TYPE_CHECKING:
    from conftest import Store


def bump(state: State, i: int) -> State:
    return state.with_resource(ResourceState(address=f"lora.l{i}", kind="lora", remote_name=f"r{i}"))


def damage(store: Store) -> None:
    """Truncate the current version the way a full disk or a bad copy would."""
    if store.kind == "local":
        assert store.path is not None
        text = store.path.read_text()
        store.path.write_text(text[: len(text) // 2])
        return
    import psycopg

    with psycopg.connect(store.spec["dsn"], autocommit=True) as conn:
        conn.execute(
            "UPDATE lorainfra_states SET document_text = left(document_text, 20) WHERE workspace = %s",
            (store.spec["workspace"],),
        )


def five_versions(store: Store) -> list[State]:
    backend = store.new()
    versions = [backend.write(State.new())]
    for i in range(4):
        versions.append(backend.write(bump(versions[-1], i)))
    return versions


def test_reading_damaged_state_names_the_kept_versions_and_the_recovery_commands(store: Store) -> None:
    versions = five_versions(store)
    damage(store)
    backend = store.new()
    with pytest.raises(DamagedStateError) as info:
        backend.read()
    message = str(info.value)
    assert "damaged" in message
    assert "lorainfra state history" in message
    newest = 4 if store.kind == "local" else 5  # postgres keeps every version in its history table
    assert f"lorainfra state pull --serial {newest}" in message  # the newest version kept
    assert "lorainfra state push" in message and "--force" in message
    with pytest.raises(DamagedStateError):
        backend.write(versions[-1])  # nothing is written on top of an unreadable version
    assert isinstance(info.value, StateError)


def test_history_and_older_versions_stay_readable(store: Store) -> None:
    versions = five_versions(store)
    damage(store)
    backend = store.new()
    serials = [h.serial for h in backend.history()]
    assert serials[:4] == [1, 2, 3, 4]
    assert backend.read_serial(4) == versions[3]
    assert backend.read_serial(2) == versions[1]


def test_restore_replaces_the_damaged_version_above_every_serial_seen(store: Store) -> None:
    versions = five_versions(store)
    damage(store)
    backend = store.new()
    good = backend.read_serial(4)
    assert good is not None
    restored = backend.restore(good, operation="state push")
    assert restored.serial > versions[-1].serial  # never reuses the damaged version's serial
    assert restored.resources == good.resources and restored.lineage == good.lineage
    assert store.new().read() == restored
    assert [h.serial for h in backend.history()][-1] == restored.serial
    again = backend.write(bump(restored, 9))  # business as usual afterwards
    assert again.serial == restored.serial + 1


def test_restore_refuses_another_lineage_and_a_readable_state(store: Store) -> None:
    versions = five_versions(store)
    backend = store.new()
    with pytest.raises(StateError, match="not damaged"):
        backend.restore(versions[2])
    damage(store)
    with pytest.raises(StateError, match="lineage"):
        backend.restore(State.new())


def test_local_damaged_file_is_kept_aside(local_store: Store) -> None:
    path = local_store.path
    assert path is not None
    five_versions(local_store)
    damage(local_store)
    damaged_text = path.read_text()
    backend = local_store.new()
    good = backend.read_serial(4)
    assert good is not None
    backend.restore(good)
    kept = [p for p in path.with_name("state.json.backup").iterdir() if p.name.startswith("damaged")]
    assert [p.read_text() for p in kept] == [damaged_text]
    assert [h.serial for h in backend.history()] == [1, 2, 3, 4, 6]
