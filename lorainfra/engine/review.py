"""Review: read-only drift detection and adopting a live object made by hand (``import``)."""

from __future__ import annotations

from dataclasses import dataclass

from lorainfra.config.model import Config, Resource
from lorainfra.engine.events import EventSink
from lorainfra.engine.planner import check_state_addresses, in_flight, reconcile, refresh, without_in_flight
from lorainfra.errors import LorainfraError
from lorainfra.frozen import frozen_mapping
from lorainfra.kinds.registry import kind_of
from lorainfra.plan.diff import drift
from lorainfra.plan.model import DriftItem
from lorainfra.providers.base import Provider
from lorainfra.state.backend import LockInfo
from lorainfra.state.model import ResourceState, State


@dataclass(frozen=True)
class DriftReport:
    """Drift, and, while another run holds the state lock, who holds it and what it is changing (not drift)."""

    items: tuple[DriftItem, ...]
    lock: LockInfo | None = None  # who holds the state lock
    in_flight: tuple[tuple[str, str], ...] = ()  # (address, operation) the holder is changing


async def detect_drift(
    config: Config, provider: Provider, state: State, sink: EventSink, *, lock: LockInfo | None = None
) -> DriftReport:
    """Changes made outside lorainfra: live objects vs what was last applied (never vs unapplied config).

    With ``lock`` (another run holds the state lock) the pending operations are that run's changes in
    flight: reported as such, never as drift. Otherwise they were left by an interrupted run: resolved.
    """
    check_state_addresses(state)
    state = state.bound_to(provider.account, provider.endpoint)  # before any request: a wrong account is an error
    observed = await refresh(provider, sink)
    flying = in_flight(state) if lock is not None else ()
    if lock is None:
        state, _ = reconcile(state, observed)
    ignore = {str(a): r.lifecycle.ignore_changes for a, r in config.resources.items()}
    return DriftReport(without_in_flight(drift(state, observed, ignore), flying),
                       lock, flying)


async def import_object(provider: Provider, state: State, resource: Resource, remote: str) -> State:
    """``state`` with the live object ``remote`` (a full name, or an ID we choose) recorded as ``resource``.

    Raises LorainfraError when the state belongs to another account, the resource is already managed, or the
    object is missing, of another kind, or managed under another address.
    """
    state = state.bound_to(provider.account, provider.endpoint)  # the same rule as a plan, before any request
    address = resource.address
    key = str(address)
    if key in state.resources:
        raise LorainfraError(f"{key} is already managed ({state.resources[key].remote_name}); "
                             "use `lorainfra state rm` first to re-import")
    kind = kind_of(address.kind)
    name = remote
    if "/" not in name and kind.remote_id(name):
        name = provider.remote_name(kind.name, name)
    obj = await provider.get(kind.name, name)
    if obj is None or obj.gone:
        raise LorainfraError(f"{remote} does not exist in the account (or is deleted); nothing imported")
    if f"{kind.collection}/" not in obj.name:
        raise LorainfraError(f"{obj.name} is not a {kind.name}")
    expected = kind.expected_name(kind.identity(resource.name, resource.attributes, provider.account))
    if expected and obj.name != expected:  # the config names its object: another one would be replaced by it
        raise LorainfraError(f"{key} is {expected} (its {kind.noun} follows from the config), not {obj.name}; "
                             f"import {expected}, or declare the object you mean under the key that names it")
    taken = [a for a, r in state.resources.items() if r.remote_name == obj.name]
    if taken:
        raise LorainfraError(f"{obj.name} is already managed as {taken[0]}")
    # what the config sets, as an apply records it (a key removed from the config later is then reset)
    applied = {k: v for k, v in obj.attributes.items() if k in resource.attributes}
    entry = ResourceState(key, kind.name, obj.name, frozen_mapping(applied),
                          tuple(str(d) for d in resource.depends_on), obj.digest)
    return state.with_resource(entry)
