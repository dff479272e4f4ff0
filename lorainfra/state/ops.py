"""State operations behind the ``state`` CLI commands: mv, rm, push guards and backend migration."""

from __future__ import annotations

import contextlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any, Protocol, runtime_checkable

from lorainfra.addresses import Address
from lorainfra.config.model import frozen_mapping
from lorainfra.errors import StateError
from lorainfra.kinds.registry import KINDS, kind_of
from lorainfra.state.backend import StateBackend, Version
from lorainfra.state.model import PendingOp, ResourceState, State


def _address(text: str) -> Address:
    try:
        return Address.parse(text)
    except ValueError as exc:
        raise StateError(str(exc)) from exc


def state_address(text: str) -> str:
    """The state key of an address as a user typed it (``lora.x["a"]`` is ``lora.x[a]``); StateError if malformed."""
    return str(_address(text))


def _rename(deps: tuple[str, ...], old: str, new: str) -> tuple[str, ...]:
    return tuple(new if d == old else d for d in deps)


def state_mv(state: State, old: str, new: str) -> State:
    """Rename a managed resource (and every recorded dependency on it); the live object is untouched.

    Refused when the new name would be another live object (a deployment's name is its ID)."""
    src, dst = _address(old), _address(new)
    old, new = str(src), str(dst)  # lora.x["a"] is lora.x[a]
    if src.kind != dst.kind:
        raise StateError(f"cannot move {old} to {new}: a {src.kind} cannot become a {dst.kind}")
    why, what = kind_of(src.kind).rename_problem(src.name, dst.name) if src.kind in KINDS else ("", "")
    if why:
        raise StateError(f"{why}; {what}")
    if old not in state.resources and old not in state.pending:
        raise StateError(f"{old} is not in the state")
    if new in state.resources or new in state.pending:
        raise StateError(f"cannot move {old} to {new}: {new} is already in the state")
    resources: dict[str, ResourceState] = {}
    for addr, res in state.resources.items():
        res = replace(res, dependencies=_rename(res.dependencies, old, new))
        if addr == old:
            res = replace(res, address=new)
        resources[res.address] = res
    pending: dict[str, PendingOp] = {}
    for addr, op in state.pending.items():
        op = replace(op, dependencies=_rename(op.dependencies, old, new))
        if addr == old:
            op = replace(op, address=new)
        pending[op.address] = op
    return replace(state, resources=frozen_mapping(resources), pending=frozen_mapping(pending))


def state_rm(state: State, address: str) -> State:
    """Forget a resource (and any pending operation on it); the live object is untouched."""
    address = str(_address(address))
    if address not in state.resources and address not in state.pending:
        raise StateError(f"{address} is not in the state")
    return state.without_resource(address).without_pending(address)


def check_push(current: State | None, incoming: State, *, force: bool = False) -> State:
    """Check that ``incoming`` may replace ``current``; return the State to pass to ``write()``.

    Refused: another lineage (always), or a serial not above the stored one (unless ``force``).
    The stored version then gets the next serial after ``current``.
    """
    if current is None:
        return replace(incoming, serial=max(incoming.serial - 1, 0))
    if incoming.lineage != current.lineage:
        raise StateError(
            f"cannot push: the file has lineage {incoming.lineage}, the stored state has lineage "
            f"{current.lineage} (they belong to different projects)"
        )
    if incoming.serial <= current.serial and not force:
        raise StateError(
            f"cannot push: the file has serial {incoming.serial}, the stored state is already at serial "
            f"{current.serial} (newer or equal); pass --force to overwrite it anyway"
        )
    return replace(incoming, serial=current.serial)


@runtime_checkable
class VersionImporter(Protocol):
    """A backend that can take versions with their original serials and authorship, all or nothing."""

    def import_versions(self, versions: Sequence[Version]) -> None: ...


@dataclass(frozen=True)
class MigrateResult:
    copied: int  # versions written to the destination
    serial: int  # serial of the latest state, now in both
    lineage: str


def _same(a: State, b: State) -> bool:
    return _canon(a.to_json()) == _canon(b.to_json())


def _canon(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {k: _canon(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_canon(v) for v in value]
    return value


def migrate(
    src: StateBackend, dst: StateBackend, *, lock: bool = True, lock_timeout: float = 0.0
) -> MigrateResult:
    """Copy the latest state of ``src`` to ``dst`` (and every kept older version, if ``dst`` can import them).

    Refuses if ``dst`` holds a state of another lineage or one ahead of ``src``. Holds both locks
    unless ``lock`` is False (the caller holds them). Idempotent: running it again copies nothing.
    """
    with contextlib.ExitStack() as stack:
        if lock:
            stack.enter_context(src.lock("state migrate", timeout=lock_timeout))
            stack.enter_context(dst.lock("state migrate", timeout=lock_timeout))
        latest = src.read()
        if latest is None:
            raise StateError(f"nothing to migrate: {src.describe()} holds no state")
        existing = dst.read()
        base = 0
        if existing is not None:
            if existing.lineage != latest.lineage:
                raise StateError(
                    f"cannot migrate: {dst.describe()} already holds a state of another lineage "
                    f"({existing.lineage}, source {latest.lineage})"
                )
            if existing.serial > latest.serial or (
                existing.serial == latest.serial and not _same(existing, latest)
            ):
                raise StateError(
                    f"cannot migrate: {dst.describe()} is at serial {existing.serial}, the source at "
                    f"{latest.serial}; they have diverged"
                )
            base = existing.serial
        copied = 0
        if isinstance(dst, VersionImporter):
            # Read everything first, then store it in one step: a migrate killed midway leaves the
            # destination as it was, never a partial copy that looks like a valid state.
            batch: list[Version] = []
            for entry in src.history():
                if entry.lineage != latest.lineage or entry.serial <= base:
                    continue
                version = src.read_serial(entry.serial)
                if version is not None:
                    batch.append(Version(version, entry.written_at, entry.who, entry.operation))
            if latest.serial > base and (not batch or batch[-1].state.serial != latest.serial):
                batch.append(Version(latest, "", "", "state migrate"))
            dst.import_versions(batch)
            copied = len(batch)
        elif existing is None:
            dst.write(replace(latest, serial=latest.serial - 1), operation="state migrate")
            copied = 1
        elif base < latest.serial:
            raise StateError(
                f"cannot migrate: {dst.describe()} already holds serial {base} of this state "
                f"and cannot take older versions; push the latest state instead"
            )
        stored = dst.read()
        if stored is None or stored.serial != latest.serial or not _same(stored, latest):
            raise StateError(f"migration check failed: {dst.describe()} does not hold serial {latest.serial}")
        return MigrateResult(copied=copied, serial=latest.serial, lineage=latest.lineage)
