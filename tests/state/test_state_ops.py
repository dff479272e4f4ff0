"""State operations: mv, rm, push guards and migration between backends."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from conftest import Store
from test_state_conformance import sample_state

from lorainfra.errors import StateError
from lorainfra.state.local import LocalBackend
from lorainfra.state.model import ResourceState, State
from lorainfra.state.ops import check_push, migrate, state_mv, state_rm

# -- mv / rm --


def test_mv_renames_a_lora_and_leaves_the_rest() -> None:
    state = sample_state()
    moved = state_mv(state, "lora.support-bot", "lora.support")
    assert "lora.support-bot" not in moved.resources
    assert moved.resources["lora.support"].address == "lora.support"
    assert moved.resources["lora.support"].remote_name == "accounts/acme/deployedModels/support-bot-x1"
    assert moved.resources["lora.support"].dependencies == ("deployment.shared-base",)
    assert "lora.support-bot" in state.resources  # unchanged
    assert moved.serial == state.serial and moved.lineage == state.lineage


def test_mv_refuses_to_change_a_deployments_id() -> None:
    # issue 12 point 3: the name is the Fireworks ID; the next apply unloaded its LoRAs and failed
    with pytest.raises(StateError) as caught:
        state_mv(sample_state(), "deployment.shared-base", "deployment.base")
    message = str(caught.value)
    assert "a deployment's name is its Fireworks deployment ID" in message
    assert "deployment.base would be another object (base)" in message
    assert "keep the name 'shared-base'" in message and "then remove deployment.shared-base" in message


def test_mv_moves_a_pending_op() -> None:
    moved = state_mv(sample_state(), "lora.faq-bot", "lora.faq")
    assert list(moved.pending) == ["lora.faq"] and moved.pending["lora.faq"].address == "lora.faq"


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        ("lora.nope", "lora.x", "not in the state"),
        ("lora.support-bot", "deployment.shared-base", "cannot become"),
        ("lora.support-bot", "lora.faq-bot", "already in the state"),
        ("lora.support-bot", "bogus", "invalid address"),
    ],
)
def test_mv_errors(old: str, new: str, message: str) -> None:
    with pytest.raises(StateError, match=message):
        state_mv(sample_state(), old, new)


def test_rm_forgets_resource_and_pending() -> None:
    state = sample_state()
    removed = state_rm(state, "lora.support-bot")
    assert "lora.support-bot" not in removed.resources and len(removed.resources) == 1
    assert state_rm(state, "lora.faq-bot").pending == {}
    with pytest.raises(StateError, match="not in the state"):
        state_rm(state, "lora.gone")


# -- push --


def test_check_push() -> None:
    current = replace(sample_state("L"), serial=5)
    assert check_push(None, replace(current, serial=3)).serial == 2
    newer = replace(current, serial=7)
    assert check_push(current, newer) == replace(newer, serial=5)
    with pytest.raises(StateError, match=r"serial 5.*--force"):
        check_push(current, replace(current, serial=5))
    assert check_push(current, replace(current, serial=2), force=True).serial == 5
    with pytest.raises(StateError, match="lineage"):
        check_push(current, replace(current, lineage="other", serial=9), force=True)


def test_push_through_a_backend(local_store: Store) -> None:
    backend = local_store.new()
    stored = backend.write(State.new())
    incoming = replace(sample_state(stored.lineage), serial=4)
    pushed = backend.write(check_push(backend.read(), incoming), operation="state push")
    assert pushed.serial == 2 and pushed.resources == incoming.resources


# -- migrate --


def _fill(backend: LocalBackend | object, writes: int) -> list[State]:
    state = backend.write(sample_state(), operation="apply 0")  # type: ignore[attr-defined]
    versions = [state]
    for i in range(1, writes):
        state = backend.write(  # type: ignore[attr-defined]
            state.with_resource(ResourceState(address=f"lora.l{i}", kind="lora", remote_name=f"r{i}")),
            operation=f"apply {i}",
        )
        versions.append(state)
    return versions


@pytest.mark.postgres
def test_migrate_local_to_postgres_loses_nothing(local_store: Store, postgres_store: Store) -> None:
    src, dst = local_store.new("alice"), postgres_store.new("bob")
    versions = _fill(src, 55)
    src_history = list(src.history())
    assert [h.serial for h in src_history] == list(range(5, 56))  # 50 backups + the current file
    result = migrate(src, dst)
    assert result.copied == 51 and result.serial == 55
    assert dst.read() == versions[-1]
    assert list(dst.history()) == src_history  # serials, lineage, who, when, operation
    for entry in src_history:
        assert dst.read_serial(entry.serial) == versions[entry.serial - 1]
    assert migrate(src, dst).copied == 0  # idempotent
    # later writes continue the serials in the new home
    assert dst.write(versions[-1]).serial == 56


@pytest.mark.postgres
def test_migrate_catches_up_a_destination_behind(local_store: Store, postgres_store: Store) -> None:
    src, dst = local_store.new(), postgres_store.new()
    versions = _fill(src, 3)
    migrate(src, dst)
    src.write(versions[-1])
    assert migrate(src, dst).copied == 1
    assert dst.read() == src.read()


def test_migrate_between_local_files(local_store: Store, tmp_path: Path) -> None:
    src = local_store.new()
    dst = LocalBackend(tmp_path / "other" / "state.json", who="x")
    versions = _fill(src, 4)
    assert migrate(src, dst).copied == 4
    assert dst.read() == versions[-1]
    assert [h.serial for h in dst.history()] == [1, 2, 3, 4]
    assert all(dst.read_serial(v.serial) == v for v in versions)


def test_migrate_refuses_another_lineage_or_diverged(local_store: Store, tmp_path: Path) -> None:
    src = local_store.new()
    _fill(src, 2)
    dst = LocalBackend(tmp_path / "other" / "state.json", who="x")
    dst.write(State.new("someone-else"))
    with pytest.raises(StateError, match="another lineage"):
        migrate(src, dst)
    ahead = LocalBackend(tmp_path / "ahead" / "state.json", who="x")
    migrate(src, ahead)
    ahead.write(ahead.read())  # type: ignore[arg-type]
    with pytest.raises(StateError, match="diverged"):
        migrate(src, ahead)
    with pytest.raises(StateError, match="nothing to migrate"):
        migrate(LocalBackend(tmp_path / "empty" / "state.json", who="x"), dst)


def test_migrate_refuses_while_locked(local_store: Store, tmp_path: Path) -> None:
    src = local_store.new()
    _fill(src, 1)
    with local_store.new("holder").lock("apply"), pytest.raises(StateError, match="locked"):
        migrate(src, LocalBackend(tmp_path / "d" / "state.json", who="x"))


def test_mv_and_rm_take_fleet_item_addresses_as_typed() -> None:
    """A plain LoRA becomes item [a] of a fleet; Terraform's quoted spelling names the same entry."""
    moved = state_mv(sample_state(), "lora.support-bot", 'lora.support-bot["shared-base"]')
    assert "lora.support-bot[shared-base]" in moved.resources
    assert moved.resources["lora.support-bot[shared-base]"].address == "lora.support-bot[shared-base]"
    back = state_mv(moved, "lora.support-bot[shared-base]", "lora.bot[x]")
    assert "lora.bot[x]" in back.resources
    assert "lora.bot[x]" not in state_rm(back, 'lora.bot["x"]').resources
    with pytest.raises(StateError, match="invalid address"):
        state_rm(back, "lora.bot[x")


def test_state_address_normalizes_what_users_type() -> None:
    from lorainfra.state.ops import state_address

    assert state_address('lora.bot["eu-base"]') == "lora.bot[eu-base]"
    assert state_address("lora.bot") == "lora.bot"
    with pytest.raises(StateError, match="invalid address"):
        state_address("lora.bot[")
