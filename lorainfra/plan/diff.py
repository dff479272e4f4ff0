"""Diff: desired resources vs live objects and state, giving one Change per address (pure, no I/O)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import replace as evolve
from typing import Any

from lorainfra.addresses import Address
from lorainfra.config.model import Resource
from lorainfra.frozen import frozen_mapping
from lorainfra.kinds.base import AttributeSpec
from lorainfra.kinds.registry import kind_of
from lorainfra.live import Observed, RemoteObject
from lorainfra.plan.model import Action, AttributeChange, Change, DriftItem, deposed_address
from lorainfra.state.model import State


def _norm(value: Any) -> Any:
    if isinstance(value, list | tuple):
        return tuple(_norm(v) for v in value)
    if isinstance(value, Mapping):
        return {str(k): _norm(v) for k, v in value.items()}
    if isinstance(value, bool):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


_SCALARS = frozenset({str, int, float, bool, type(None)})


def values_equal(spec: AttributeSpec, desired: Any, live: Any) -> bool:
    """Whether a live value satisfies a desired one (shape names match by prefix: the server pins a version)."""
    if spec.prefix_match and isinstance(desired, str) and isinstance(live, str):
        return desired == "default" or live == desired or live.startswith(desired + "/")
    if desired == live:  # fast path: plain equality implies equality after normalisation
        return True
    if type(desired) in _SCALARS and type(live) in _SCALARS:
        return False  # _norm leaves scalars alone (1.0 == 1 and True == 1 already hold)
    return bool(_norm(desired) == _norm(live))


def attribute_changes(
    kind: str, desired: Mapping[str, Any], live: Mapping[str, Any], ignore: Iterable[str] = ()
) -> tuple[AttributeChange, ...]:
    """Attributes whose desired value differs from the live one; unset desired attributes never diff."""
    ignored = set(ignore)
    changes = []
    for spec in kind_of(kind).attributes:
        if spec.name not in desired or spec.name in ignored or spec.local == "input":
            continue
        want = desired[spec.name]
        have = live.get(spec.name, spec.default)
        if not values_equal(spec, want, have):
            changes.append(AttributeChange(spec.name, have, want, spec.forces_replacement))
    return tuple(changes)


def removed_attributes(
    kind: str, desired: Mapping[str, Any], applied: Mapping[str, Any], live: Mapping[str, Any], ignore: Iterable[str] = ()
) -> tuple[AttributeChange, ...]:
    """Attributes the last apply set that the config no longer sets, still set live: reset to the
    server's default (one with a known default already diffs against it), or, for one Fireworks cannot
    reset (``resettable=False``), kept: the live value stays and only the state forgets the attribute."""
    if applied.keys() <= desired.keys():
        return ()  # the config still sets everything the last apply set (the common case: no spec to scan)
    ignored = set(ignore)
    return tuple(
        AttributeChange(spec.name, live[spec.name], None, spec.forces_replacement, reset=True) if spec.resettable
        else AttributeChange(spec.name, live[spec.name], None, kept=True)
        for spec in kind_of(kind).attributes
        if spec.default is None and spec.name not in desired and spec.name not in ignored
        and spec.name in applied and live.get(spec.name) is not None
    )


def remote_name_for(resource: Resource, state: State, observed: Observed, account: str) -> str:
    """The live object this desired resource is (or would be): recorded, found by identity, or named by us."""
    managed = state.resources.get(str(resource.address))
    if managed is not None:
        return managed.remote_name
    kind = kind_of(resource.kind)
    identity = kind.identity(resource.name, resource.attributes, account)
    found = kind.find(identity, observed)
    return found.name if found else kind.expected_name(identity)


def _dependencies_first(desired: Mapping[Address, Resource]) -> list[Address]:
    """Every desired address, each after the desired addresses it depends on (linear; ties by address).

    The one topological order of the code base (the applier's steps follow the plan's dependencies):
    the diff only needs a resource's dependencies to be diffed before it (to propagate replacement).
    Cycles are rejected by the config loader; here a cycle is simply broken where it is found.
    """
    order: list[Address] = []
    state: dict[Address, int] = {}  # 1 = on the stack, 2 = emitted
    for root in sorted(desired):
        if root in state:
            continue
        stack: list[tuple[Address, list[Address]]] = [(root, sorted(set(desired[root].depends_on), reverse=True))]
        state[root] = 1
        while stack:
            node, pending = stack[-1]
            while pending and (pending[-1] in state or pending[-1] not in desired):
                pending.pop()
            if pending:
                dep = pending.pop()
                state[dep] = 1
                stack.append((dep, sorted(set(desired[dep].depends_on), reverse=True)))
                continue
            stack.pop()
            state[node] = 2
            order.append(node)
    return order


def _update_note(key: str, resource: Resource, live: RemoteObject, state: State) -> str:
    """The kind's note on an in-place update, naming the managed resources that depend on this one."""
    note = kind_of(resource.kind).update_note(live.attributes, resource.attributes)
    dependents = sorted(k for k, m in state.resources.items() if key in m.dependencies)
    return f"{note} (managed here: {', '.join(dependents)})" if note and dependents else note


def _alive(obj: RemoteObject | None) -> bool:
    return obj is not None and not obj.gone


def _replacement_order(
    key: str, kind: str, before: Mapping[str, Any], after: Mapping[str, Any], deps: Iterable[str],
    changes: Mapping[str, Change], observed: Observed,
) -> tuple[bool, str]:
    """(create first?, the gap when not): the kind decides, and a dependency destroyed first forces the
    old order too (the new object could only be created once the dependency's old object is gone)."""
    spec = kind_of(kind)
    first = [d for d in deps if d in changes and changes[d].action is Action.REPLACE and not changes[d].create_first]
    blocker = (f"{first[0]} is destroyed before it is created again" if first
               else spec.create_first_blocker(before, after, observed))
    if not blocker:
        return True, ""
    return False, (f"destroy then create, because {blocker}: {key} is unavailable from the delete "
                   f"until the new one is {spec.ready_state}")


def _unfinished_upload(kind: str, live: RemoteObject, adopts: bool, attrs: Iterable[AttributeChange]) -> str:
    """Why a live object still waiting for its files (its kind's ``upload_state``: created, never uploaded and
    validated) gets them from this apply; "" when it is not waiting. Planned before anything runs, so no upload
    of this run is in progress: a run stopped between the create and the end of the upload (or a create by
    hand) left it so, and waiting would never see it ready."""
    spec = kind_of(kind)
    if not spec.upload_state or live.state != spec.upload_state:
        return ""
    why = (f"{live.name} exists live but not in state and is still {live.state} (its upload never finished): "
           "apply adopts it and uploads its files" if adopts
           else f"an interrupted upload left it {live.state}; apply uploads its files again")
    later = sorted(a.name for a in attrs if a.sent)
    return why + (f"; the next apply changes {', '.join(later)} in place" if later else "")


def _dark_dependents(changes: dict[str, Change]) -> None:
    """A replacement destroyed first names the dependents replaced with it (unavailable meanwhile)."""
    replaced_with: dict[str, list[str]] = {}
    for change in changes.values():
        if change.action is Action.REPLACE:
            for dep in change.depends_on:
                replaced_with.setdefault(dep, []).append(change.address)
    for key, change in list(changes.items()):
        if change.action is not Action.REPLACE or change.create_first:
            continue
        dark = sorted(replaced_with.get(key, ()))
        if dark:
            states = "/".join(sorted({kind_of(changes[a].kind).ready_state for a in dark}))
            note = (f"these go dark with it until it is {kind_of(change.kind).ready_state} and they are {states} "
                    f"again: {', '.join(dark)}")
            changes[key] = evolve(change, gap=f"{change.gap}; {note}" if change.gap else note)


def diff(
    desired: Mapping[Address, Resource],
    state: State,
    observed: Observed,
    account: str,
    *,
    replace: Iterable[str] = (),
    destroy: bool = False,
) -> tuple[Change, ...]:
    """One Change per address known to the config or the state, sorted by address."""
    forced = set(replace)
    wanted = {} if destroy else desired
    changes: dict[str, Change] = {}
    for address in _dependencies_first(wanted):
        resource = wanted[address]
        key = str(address)
        name = remote_name_for(resource, state, observed, account)
        live = observed.get(name) if name else None
        deps = tuple(str(d) for d in resource.depends_on)
        after = dict(resource.attributes)
        if not _alive(live):
            reason = "vanished from the account" if key in state.resources else ""
            if live is not None and kind_of(resource.kind).holds_id(live):  # soft-deleted: its ID is still taken
                reclaim = kind_of(resource.kind).reclaim_note(live, after)
                reason = f"{reason}; {reclaim}" if reason else reclaim
            changes[key] = Change(key, resource.kind, Action.CREATE, after=after, depends_on=deps, reason=reason)
            continue
        assert live is not None
        recorded = state.resources.get(key)
        seen = kind_of(resource.kind).seen(live.attributes, recorded.attributes if recorded else None, after)
        attrs = attribute_changes(resource.kind, resource.attributes, seen, resource.lifecycle.ignore_changes)
        if recorded is not None:
            attrs += removed_attributes(resource.kind, resource.attributes, recorded.attributes,
                                        live.attributes, resource.lifecycle.ignore_changes)
        action, reason = Action.NOOP, ""
        if attrs:
            action = Action.REPLACE if any(a.forces_replacement for a in attrs) else Action.UPDATE
            if action is Action.UPDATE:
                reason = _update_note(key, resource, live, state)
            if not any(a.sent for a in attrs):
                reason = "only the state changes: nothing is sent to Fireworks"
        if live.failed:
            action, reason = Action.REPLACE, f"live object is {live.state or 'failed'}{': ' + live.status_message if live.status_message else ''}"
        replaced_deps = [d for d in deps if d in changes and changes[d].action is Action.REPLACE]
        if replaced_deps and action is not Action.REPLACE:
            action, reason = Action.REPLACE, f"{replaced_deps[0]} is replaced"
        if key in forced:
            action, reason = Action.REPLACE, "replacement requested with --replace"
        adopts = key not in state.resources
        unfinished = _unfinished_upload(resource.kind, live, adopts, attrs) \
            if action in (Action.NOOP, Action.UPDATE) else ""
        if unfinished:  # the create uploads into it (its create answers 409; the provider uploads the files)
            action, reason = Action.CREATE, unfinished
        elif adopts and action is Action.NOOP:
            reason = "exists live but not in state: apply adopts it"
            action = Action.CREATE
        elif adopts:  # adopting an object that differs from the config is always called out
            then = "updates it in place" if action is Action.UPDATE else "replaces it"
            reason = f"{live.name} exists live but not in state and differs: apply adopts it, then {then}" + (
                f" ({reason})" if reason else "")
        create_first, gap = False, ""
        if action is Action.REPLACE:
            create_first, gap = _replacement_order(key, resource.kind, live.attributes, after, deps, changes, observed)
        changes[key] = Change(
            key, resource.kind, action, attrs, before=dict(live.attributes), after=after,
            remote_name=live.name, depends_on=deps, reason=reason, create_first=create_first, gap=gap,
            adopts=adopts,
        )
    for key, managed in state.resources.items():
        if key in changes or Address.parse(key) in wanted:
            continue
        live = observed.get(managed.remote_name)
        changes[key] = Change(
            key, managed.kind, Action.DELETE,
            before=dict(live.attributes) if live else None,
            remote_name=managed.remote_name,
            depends_on=managed.dependencies,
            reason="" if _alive(live) else "already gone: only forgotten",
        )
    for name, old in state.deposed.items():
        live = observed.get(name)
        key = deposed_address(old.address, name)
        changes[key] = Change(
            key, old.kind, Action.DELETE, before=dict(live.attributes) if live else None, remote_name=name,
            depends_on=old.dependencies, deposed=True,
            reason="the old copy an interrupted create-before-destroy replacement left" + (
                "" if _alive(live) else "; already gone: only forgotten"),
        )
    _dark_dependents(changes)
    return tuple(changes[k] for k in sorted(changes))


def drift(
    state: State, observed: Observed, ignore: Mapping[str, Iterable[str]] | None = None
) -> tuple[DriftItem, ...]:
    """Changes made outside lorainfra: live vs last applied (never vs unapplied config)."""
    items: list[DriftItem] = []
    for key, managed in sorted(state.resources.items()):
        live = observed.get(managed.remote_name)
        if not _alive(live):
            items.append(DriftItem(key, "vanished", expected=managed.remote_name))
            continue
        assert live is not None
        ignored = set((ignore or {}).get(key, ()))
        seen = kind_of(managed.kind).seen(live.attributes, managed.attributes, managed.attributes)
        for change in attribute_changes(managed.kind, managed.attributes, seen, ignored):
            items.append(DriftItem(key, "changed", change.name, expected=change.after, live=change.before))
    return tuple(items)


def accept_drift(state: State, items: Iterable[DriftItem], observed: Observed) -> State:
    """``state`` with the live values of ``items`` accepted as last applied (refresh-only apply): a changed
    attribute takes its live value, a vanished object is forgotten. No live object is touched."""
    for item in items:
        managed = state.resources.get(item.address)
        if managed is None:
            continue
        if item.kind == "vanished":
            state = state.without_resource(item.address)
            continue
        live = observed.get(managed.remote_name)
        state = state.with_resource(evolve(
            managed, attributes=frozen_mapping({**managed.attributes, item.attribute: item.live}),
            observed_digest=live.digest if live is not None else managed.observed_digest))
    return state


def unmanaged(state: State, observed: Observed, desired_names: Iterable[str] = ()) -> tuple[str, ...]:
    """Live objects that no state entry and no desired resource refers to (listed, never touched)."""
    known = {r.remote_name for r in state.resources.values()} | set(state.deposed) | set(desired_names)
    return tuple(sorted(n for n, o in observed.objects.items()
                        if n not in known and _alive(o) and kind_of(o.kind).report_unmanaged))


def read_only_names(resources: Mapping[Address, Resource], account: str) -> tuple[str, ...]:
    """Live objects the config names but does not manage (a LoRA's external deployment, ``Kind.prerequisites``
    outside the config): known to it and read only, so never listed as unmanaged."""
    return tuple(sorted({kind_of(p.kind).remote_name(account, p.name) for r in resources.values()
                         for p in kind_of(r.kind).prerequisites(r.attributes) if p not in resources}))
