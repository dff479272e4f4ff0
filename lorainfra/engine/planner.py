"""Planner: refresh the account, resolve pending operations, diff, and check creates with the server."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from lorainfra.addresses import Address, with_fleet_items, yaml_quoted
from lorainfra.config.by_kind import ByKind
from lorainfra.config.hints import did_you_mean, join_hint
from lorainfra.config.model import Config, Limits, Move, Resource
from lorainfra.engine.events import EventSink, Note, RefreshDone
from lorainfra.errors import ApiError, Diagnostic, LorainfraError, Span, StateError
from lorainfra.frozen import frozen_mapping
from lorainfra.kinds.registry import bind, check_bound, kind_of, parse_address
from lorainfra.live import ModelInfo, Observed, RemoteObject, digest_of
from lorainfra.plan.diff import (
    attribute_changes,
    diff,
    drift,
    read_only_names,
    remote_name_for,
    removed_attributes,
    unmanaged,
)
from lorainfra.plan.lifecycle import prevent_destroy_violations
from lorainfra.plan.model import Action, Change, DriftItem, Fingerprint, Plan
from lorainfra.providers.base import Provider
from lorainfra.state.backend import LockInfo
from lorainfra.state.model import ResourceState, State
from lorainfra.state.ops import state_mv, state_rm


@dataclass(frozen=True)
class PlanOptions:
    """What to plan: everything, a destroy, forced replacements, or only some targets."""

    destroy: bool = False
    replace: frozenset[str] = frozenset()
    targets: frozenset[str] = frozenset()
    check_remote: bool = True  # validateOnly creates and model checks
    refresh_only: bool = False  # change no live object: propose accepting the drift into the state
    adopt: bool = True  # False (--no-adopt): adopting any live object is an error for this run


@dataclass(frozen=True)
class Planned:
    """A plan with the state and observation it was computed from."""

    plan: Plan
    state: State  # with pending operations resolved (not yet written)
    observed: Observed
    notes: tuple[str, ...] = field(default=())


@dataclass(frozen=True)
class Refreshing:
    """A refresh already under way (``start_refresh``): a plan can start it before its config is loaded."""

    task: asyncio.Task[Observed]
    started: float  # time.monotonic() when it started

    async def cancel(self) -> None:
        """Stop it and wait for it, its outcome (even an error) dropped: nothing is left running or unretrieved."""
        self.task.cancel()
        await asyncio.gather(self.task, return_exceptions=True)


def start_refresh(provider: Provider) -> Refreshing:
    return Refreshing(asyncio.ensure_future(provider.refresh()), time.monotonic())


async def refresh(provider: Provider, sink: EventSink, started: Refreshing | None = None) -> Observed:
    """The account's live objects (``started``: from a refresh already under way), reported to ``sink``."""
    under_way = started or start_refresh(provider)
    observed = await under_way.task
    sink.emit(RefreshDone(len(observed.objects), observed.requests, time.monotonic() - under_way.started))
    return observed


def reconcile(state: State, observed: Observed) -> tuple[State, tuple[str, ...]]:
    """Resolve what an interrupted run left in the state, by reading the live objects.

    A pending create: adopt what exists, forget what does not (a create-before-destroy replacement's old
    copy is kept as deposed). A pending update: record it if the live object has the values it sent, else
    forget it (the diff plans the update again). A pending delete: forget it (the diff sees what is live).
    A deposed copy already gone: forget it (one still live is deleted by the plan).
    """
    notes: list[str] = []
    for address, op in sorted(state.pending.items()):
        kind = kind_of(op.kind)
        found = kind.find(op.identity, observed)
        alive = found is not None and not found.gone
        state = state.without_pending(address)
        if op.operation == "create" and alive:
            assert found is not None
            old = state.resources.get(address)
            if old is not None and old.remote_name != found.name:
                state = state.with_deposed(old)  # an interrupted create-before-destroy: the old copy waits
            state = state.with_resource(
                ResourceState(address, op.kind, found.name, op.attributes, op.dependencies, found.digest)
            )
            notes.append(f"{address}: an interrupted create had reached the account; adopted {found.name}")
        elif op.operation == "create":
            notes.append(f"{address}: an interrupted create never reached the account; it will be created")
        elif op.operation == "update" and alive and address in state.resources:
            assert found is not None
            seen = kind.seen(found.attributes, op.attributes, op.attributes)
            recorded = state.resources[address].attributes  # keys the update reset are no longer in op.attributes
            if attribute_changes(op.kind, op.attributes, seen) or removed_attributes(
                    op.kind, op.attributes, recorded, found.attributes):
                notes.append(f"{address}: an interrupted update of {found.name} did not land; it is planned again")
                continue
            state = state.with_resource(replace(state.resources[address], attributes=op.attributes,
                                                dependencies=op.dependencies, observed_digest=found.digest))
            notes.append(f"{address}: an interrupted update of {found.name} had landed; recorded")
        elif op.operation == "update":
            notes.append(f"{address}: an interrupted update found nothing to update; forgotten")
        elif op.operation == "delete":
            how = "had finished" if not alive else "did not finish; the plan deletes it if it must go"
            notes.append(f"{address}: an interrupted delete {how}")
    for name, entry in sorted(state.deposed.items()):
        live = observed.get(name)
        if live is None or live.gone:
            state = state.without_deposed(name)
            notes.append(f"{entry.address}: the old copy {name} left by an interrupted replacement is gone; forgotten")
    return state, tuple(notes)


def in_flight(state: State) -> tuple[tuple[str, str], ...]:
    """What the state's pending markers and deposed copies say a run is changing: (address, operation)."""
    found = {(address, op.operation) for address, op in state.pending.items()}
    found |= {(entry.address, f"delete of the old copy {name}") for name, entry in state.deposed.items()}
    return tuple(sorted(found))


def without_in_flight(items: Iterable[DriftItem], flying: Iterable[tuple[str, str]]) -> tuple[DriftItem, ...]:
    """Drift minus the resources another run is changing right now (its changes are not drift)."""
    busy = {address for address, _ in flying}
    return tuple(i for i in items if i.address not in busy)


def apply_moves(state: State, moves: Iterable[Move]) -> tuple[State, tuple[str, ...], list[Diagnostic]]:
    """Carry out ``moved:`` / ``removed:`` entries on the state (never on a live object).

    An entry whose source is no longer in the state was already carried out (nothing to do)."""
    notes: list[str] = []
    errors: list[Diagnostic] = []
    for move in moves:
        source = str(move.source)
        if source not in state.resources and source not in state.pending:
            continue
        if move.to is None:
            state = state_rm(state, source)
            notes.append(f"{source}: forgotten (removed block); its live object is left as it is")
            continue
        try:
            state = state_mv(state, source, str(move.to))
        except StateError as exc:
            errors.append(Diagnostic(move.span, str(exc), "remove the moved entry once the move is no longer wanted"))
            continue
        notes.append(f"{source} has moved to {move.to} (moved block): the state follows; no live object is touched")
    return state, tuple(notes), errors


def one_fate(changes: Iterable[Change], resources: Mapping[Address, Resource]) -> list[Diagnostic]:
    """A plan never both adopts and destroys one live object: that shape is a rename (say so)."""
    deleted = {c.remote_name: c.address for c in changes if c.action is Action.DELETE and c.remote_name}
    deleting = set(deleted.values())  # a set: scanning the values per change was quadratic (issue 16)
    out = []
    for change in changes:
        if change.address in deleting or change.remote_name not in deleted or not change.adopts:
            continue
        old = deleted[change.remote_name]
        resource = resources.get(Address.parse(change.address))
        out.append(Diagnostic(
            resource.span if resource else Span(""),
            f"{change.address} would adopt {change.remote_name} while {old} destroys it: this looks like a rename",
            f"add to the config: moved: [{{from: {yaml_quoted(old)}, to: {yaml_quoted(change.address)}}}]",
            address=change.address))
    return out


def used_elsewhere(changes: Iterable[Change], state: State, observed: Observed,
                   resources: Mapping[Address, Resource]) -> list[Diagnostic]:
    """Deleting an object that live objects outside this state still use (a model loaded by hand) would fail on
    the server: a plan error that names them, before anything is applied."""
    managed = {r.remote_name for r in state.resources.values()} | set(state.deposed)  # a deposed copy is ours
    out = []
    for change in changes:
        if change.action not in (Action.DELETE, Action.REPLACE) or not change.remote_name:
            continue
        users = [o.name for o in kind_of(change.kind).users(change.remote_name, observed) if o.name not in managed]
        if not users:
            continue
        resource = resources.get(Address.parse(change.address))
        out.append(Diagnostic(
            resource.span if resource else Span(change.address),  # removed from the config: its address
            f"{change.address + ': ' if resource else ''}deleting {change.remote_name} would fail: it is still "
            f"loaded or served by {', '.join(users)}, not managed by this config (Fireworks refuses to delete it "
            "while in use)",
            f"unload it there first (or import it here), or keep it: `lorainfra state rm {change.address}` "
            "forgets it without deleting it", address=change.address))
    return out


ADOPT_OFF = "lifecycle.adopt is false"
NO_ADOPT_FLAG = "--no-adopt refuses adoption"


def adoption_refusal(resource: Resource, *, allowed: bool = True) -> str:
    """The one rule: why adopting a live object is refused for ``resource`` ("" when it is allowed).
    ``lifecycle.adopt: false`` refuses it for the resource, ``allowed`` False (``--no-adopt``) for the run."""
    if not resource.lifecycle.adopt:
        return ADOPT_OFF
    return "" if allowed else NO_ADOPT_FLAG


def allow_adoption_hint(refusal: str) -> str:
    """How to allow what ``adoption_refusal`` refused."""
    return "allow adoption" if refusal == ADOPT_OFF else "run without --no-adopt"


def with_adoption_refusals(
    changes: Iterable[Change], resources: Mapping[Address, Resource], *, allowed: bool = True
) -> tuple[Change, ...]:
    """Every create carries its refusal, so that the applier refuses a live object made between plan and apply
    (its create meets a 409) as the plan refuses one it sees; saved plans keep it."""
    out = []
    for change in changes:
        resource = resources.get(Address.parse(change.address)) if change.action in (
            Action.CREATE, Action.REPLACE) and not change.deposed else None
        refusal = adoption_refusal(resource, allowed=allowed) if resource is not None else ""
        out.append(replace(change, adoption_refused=refusal) if refusal != change.adoption_refused else change)
    return tuple(out)


def adoption_refused(
    changes: Iterable[Change], resources: Mapping[Address, Resource], *, allowed: bool = True
) -> list[Diagnostic]:
    """Adopting a live object is an error, at the declaration, where ``lifecycle.adopt: false`` says so for the
    resource or ``allowed`` is False for the whole run (``--no-adopt``)."""
    out = []
    for change in changes:
        resource = resources.get(Address.parse(change.address)) if change.adopts else None
        why = adoption_refusal(resource, allowed=allowed) if resource is not None else ""
        if resource is None or not why:
            continue
        out.append(Diagnostic(
            resource.span, f"{change.address}: {change.remote_name} exists live but not in the state, and {why}",
            f"delete the live object, import it deliberately (lorainfra import {change.address} ...), or "
            f"{allow_adoption_hint(why)}", address=change.address))
    return out


def unknown_addresses(options: PlanOptions, config: Config, state: State) -> list[Diagnostic]:
    """--target / --replace addresses that neither the config nor the state knows (with "did you mean")."""
    known = sorted({str(a) for a in config.resources} | set(state.resources))
    out = []
    for flag, given in (("--target", options.targets), ("--replace", options.replace)):
        for address in sorted(given):
            if address in known:
                continue
            listing = ", ".join(known[:20]) + (f" and {len(known) - 20} more" if len(known) > 20 else "")
            out.append(Diagnostic(
                Span(flag), f"{flag} {address}: no such resource in the config or the state",
                join_hint(did_you_mean(address, known), f"known addresses: {listing}" if known else
                          "nothing is declared or managed yet")))
    return out


def _with_dependencies(targets: Iterable[str], changes: dict[str, Change]) -> set[str]:
    keep: set[str] = set()
    stack = list(targets)
    while stack:
        address = stack.pop()
        if address in keep:
            continue
        keep.add(address)
        change = changes.get(address)
        if change is not None:
            stack.extend(change.depends_on)
    return keep


def fingerprint(config: Config, state: State, observed: Observed, names: Iterable[str]) -> tuple[Fingerprint, dict[str, str]]:
    digests = {}
    for name in sorted(set(n for n in names if n)):
        obj = observed.get(name)
        digests[name] = obj.digest if obj else "absent"
    return (
        Fingerprint(state.lineage, state.serial, config.digest, digest_of(digests)),
        digests,
    )


async def _check_creates(config: Config, provider: Provider, changes: Iterable[Change]) -> list[Diagnostic]:
    """Ask the server about every create before anything is applied (validateOnly, model readiness)."""
    gate = asyncio.Semaphore(10)
    diagnostics: list[Diagnostic] = []
    remote = ModelCache(provider, config.provider.limits)
    resources = ByKind(config.resources)  # each kind's resources grouped once, not scanned per check

    async def check(change: Change) -> None:
        resource = config.resources[Address.parse(change.address)]
        async with gate:
            try:
                found = await kind_of(change.kind).precheck(resource, resources, remote)
                diagnostics.extend(d.about(change.address) for d in found)
            except ApiError as exc:
                if exc.status == 409:
                    return
                diagnostics.append(
                    Diagnostic(resource.span, f"Fireworks rejects {change.address}: {exc.message}",
                               "fix the resource so the server accepts it", address=change.address)
                )

    await asyncio.gather(*(check(c) for c in changes if c.action in (Action.CREATE, Action.REPLACE)))
    return diagnostics


class ModelCache:
    """What plan-time checks ask the server: one GET per model name, however many LoRAs name it."""

    def __init__(self, provider: Provider, limits: Limits) -> None:
        self.provider = provider
        self.limits = limits
        self.account = provider.account
        self._tasks: dict[str, asyncio.Task[ModelInfo | None]] = {}
        self._objects: dict[tuple[str, str], asyncio.Task[RemoteObject | None]] = {}

    async def get(self, kind: str, name: str) -> RemoteObject | None:
        if (kind, name) not in self._objects:
            self._objects[kind, name] = asyncio.ensure_future(self.provider.get(kind, name))
        return await self._objects[kind, name]

    async def get_model(self, name: str) -> ModelInfo | None:
        if name not in self._tasks:
            self._tasks[name] = asyncio.ensure_future(self.provider.get_model(name))
        return await self._tasks[name]

    async def create(
        self, kind: str, resource_id: str, attributes: Mapping[str, Any], *, validate_only: bool = False
    ) -> RemoteObject:
        return await self.provider.create(kind, resource_id, attributes, validate_only=validate_only)


class ServerCheckError(LorainfraError):
    """The server failed while the plan checked its creates (not a config problem)."""


def check_state_addresses(state: State) -> None:
    """Every state entry names a kind this lorainfra knows, by an address of that kind; else a StateError
    saying how to fix it (never a traceback, and never a plan built on the entry: it could destroy the live
    object it names)."""
    for key, entry in sorted(state.resources.items()):
        try:
            address = parse_address(key)
        except ValueError as exc:
            problem = str(exc)
        else:
            if address.kind == entry.kind:
                continue
            problem = f"its address is a {address.kind} but the entry says {entry.kind!r}"
        raise StateError(
            f"state entry {key!r} ({entry.remote_name or 'no live object'}) is not one lorainfra can manage: "
            f"{problem}. Remove it with `lorainfra state rm {key}` (the live object is not touched), or restore a "
            "kept version with `lorainfra state history` and `lorainfra state push FILE --force`"
        )


async def make_plan(
    config: Config, provider: Provider, state: State, sink: EventSink, options: PlanOptions = PlanOptions(),
    *, lock: LockInfo | None = None, refreshing: Refreshing | None = None,
) -> Planned:
    """The plan for ``config``. ``lock``: another run holds the state lock (a read-only plan): its pending
    operations are in flight, not left by an interrupted run, so they are reported as such, not resolved.
    ``refreshing``: the refresh of ``provider``'s account, already started (cancelled if this raises first)."""
    try:
        return await _make_plan(config, provider, state, sink, options, lock=lock, refreshing=refreshing)
    finally:
        if refreshing is not None:  # done: its result was used or its error raised; else nothing may dangle
            await refreshing.cancel()


async def _make_plan(
    config: Config, provider: Provider, state: State, sink: EventSink, options: PlanOptions,
    *, lock: LockInfo | None, refreshing: Refreshing | None,
) -> Planned:
    check_state_addresses(state)
    config = replace(config, resources=bind(config.resources, provider.account))  # model.NAME, external names
    known = {str(a) for a in config.resources} | set(state.resources)
    options = replace(options, targets=with_fleet_items(options.targets, known),
                      replace=with_fleet_items(options.replace, known))
    state = state.bound_to(provider.account, provider.endpoint)  # before any request: a wrong account is an error
    observed = await refresh(provider, sink, refreshing)
    flying = in_flight(state) if lock is not None else ()
    state, notes = reconcile(state, observed) if lock is None else (state, ())
    state, moved_notes, move_errors = apply_moves(state, config.moves)
    notes += moved_notes
    for note in notes:
        sink.emit(Note(note))
    changes = () if options.refresh_only else diff(
        config.resources, state, observed, provider.account,
        replace=options.replace, destroy=options.destroy,
    )
    by_address = {c.address: c for c in changes}
    if options.targets:
        keep = _with_dependencies(options.targets, by_address)
        # deletes of dependents of a targeted resource go too (they must go first)
        keep |= {c.address for c in changes if c.action in (Action.DELETE, Action.REPLACE)
                 and set(c.depends_on) & keep}
        keep |= {c.address for c in changes if c.deposed and c.address.split(" ", 1)[0] in keep}  # its old copies
        changes = tuple(c if c.address in keep else replace(c, action=Action.NOOP, attributes=()) for c in changes)
    changes = with_adoption_refusals(changes, config.resources, allowed=options.adopt)
    errors: list[Diagnostic] = prevent_destroy_violations(changes, config.resources) + move_errors
    errors += check_bound(config.resources)  # rules only the bound names show (model.NAME = its full name)
    errors += unknown_addresses(options, config, state)
    errors += one_fate(changes, config.resources) + adoption_refused(changes, config.resources, allowed=options.adopt)
    errors += used_elsewhere(changes, state, observed, config.resources)
    if options.check_remote and not options.destroy:
        try:
            found = await _check_creates(config, provider, changes)
            errors.extend(d for d in found if d.severity == "error")
            for warning in sorted(d for d in found if d.severity != "error"):  # reported; they do not stop a plan
                sink.emit(Note(warning.render()))
        except LorainfraError as exc:
            # not a config problem: the server (or the way to it) failed while the plan checked its creates
            raise ServerCheckError(f"the plan could not check its creates with the server: {exc}; "
                                   "nothing was changed (run the plan again once the server answers)") from exc
    desired_names = [remote_name_for(r, state, observed, provider.account) for r in config.resources.values()]
    names = [r.remote_name for r in state.resources.values()] + list(state.deposed) + desired_names
    fp, digests = fingerprint(config, state, observed, names)
    ignore = {str(a): r.lifecycle.ignore_changes for a, r in config.resources.items()}
    plan = Plan(
        changes=changes,
        drift=without_in_flight(drift(state, observed, ignore), flying),
        unmanaged=unmanaged(state, observed, [*desired_names, *read_only_names(config.resources, provider.account)]),
        fingerprint=fp,
        errors=tuple(sorted(errors)),
        observed_digests=frozen_mapping(digests),
        destroy=options.destroy,
        targets=tuple(sorted(options.targets)),
        lock=lock,
        in_flight=flying,
        refresh_only=options.refresh_only,
    )
    return Planned(plan, state, observed, notes)



def totals_by_kind(observed: Observed) -> dict[str, int]:
    """How many live objects of each kind refresh saw (sizes a LIST for the poller)."""
    totals: dict[str, int] = {}
    for obj in observed.objects.values():
        totals[obj.kind] = totals.get(obj.kind, 0) + 1
    return totals
