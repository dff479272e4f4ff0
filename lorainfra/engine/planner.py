"""Planner: refresh the account, resolve pending operations, diff, and check creates with the server."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from types import MappingProxyType
from typing import Any

from lorainfra.addresses import Address, with_fleet_items, yaml_quoted
from lorainfra.config.hints import did_you_mean, join_hint
from lorainfra.config.model import Config, Limits, Move, Resource
from lorainfra.engine.events import EventSink, Note, RefreshDone
from lorainfra.errors import ApiError, Diagnostic, LorainfraError, Span, StateError
from lorainfra.frozen import frozen_mapping
from lorainfra.kinds.registry import kind_of, parse_address
from lorainfra.live import ModelInfo, Observed, RemoteObject, digest_of
from lorainfra.plan.diff import diff, drift, remote_name_for, unmanaged
from lorainfra.plan.lifecycle import prevent_destroy_violations
from lorainfra.plan.model import Action, Change, Fingerprint, Plan
from lorainfra.providers.base import Provider
from lorainfra.state.model import ResourceState, State
from lorainfra.state.ops import state_mv, state_rm


@dataclass(frozen=True)
class PlanOptions:
    """What to plan: everything, a destroy, forced replacements, or only some targets."""

    destroy: bool = False
    replace: frozenset[str] = frozenset()
    targets: frozenset[str] = frozenset()
    check_remote: bool = True  # validateOnly creates and model checks


@dataclass(frozen=True)
class Planned:
    """A plan with the state and observation it was computed from."""

    plan: Plan
    state: State  # with pending operations resolved (not yet written)
    observed: Observed
    notes: tuple[str, ...] = field(default=())


async def refresh(provider: Provider, sink: EventSink) -> Observed:
    started = time.monotonic()
    observed = await provider.refresh()
    sink.emit(RefreshDone(len(observed.objects), observed.requests, time.monotonic() - started))
    return observed


def reconcile(state: State, observed: Observed) -> tuple[State, tuple[str, ...]]:
    """Resolve pending creates left by an interrupted run: adopt what exists, forget what does not."""
    notes: list[str] = []
    for address, op in sorted(state.pending.items()):
        found = kind_of(op.kind).find(op.identity, observed)
        state = state.without_pending(address)
        if op.operation == "create" and found is not None and not found.gone:
            state = state.with_resource(
                ResourceState(address, op.kind, found.name, op.attributes, op.dependencies, found.digest)
            )
            notes.append(f"{address}: an interrupted create had reached the account; adopted {found.name}")
        elif op.operation == "create":
            notes.append(f"{address}: an interrupted create never reached the account; it will be created")
    return state, tuple(notes)


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
    out = []
    for change in changes:
        if change.address in deleted.values() or change.remote_name not in deleted or not change.adopts:
            continue
        old = deleted[change.remote_name]
        resource = resources.get(Address.parse(change.address))
        out.append(Diagnostic(
            resource.span if resource else Span(""),
            f"{change.address} would adopt {change.remote_name} while {old} destroys it: this looks like a rename",
            f"add to the config: moved: [{{from: {yaml_quoted(old)}, to: {yaml_quoted(change.address)}}}]",
            address=change.address))
    return out


def adoption_refused(changes: Iterable[Change], resources: Mapping[Address, Resource]) -> list[Diagnostic]:
    """``lifecycle.adopt: false``: adopting a live object is an error, at the declaration."""
    out = []
    for change in changes:
        resource = resources.get(Address.parse(change.address)) if change.adopts else None
        if resource is not None and not resource.lifecycle.adopt:
            out.append(Diagnostic(
                resource.span,
                f"{change.address}: {change.remote_name} exists live but not in the state, and lifecycle.adopt is false",
                f"delete the live object, import it deliberately (lorainfra import {change.address} ...), "
                "or allow adoption", address=change.address))
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

    async def check(change: Change) -> None:
        resource = config.resources[Address.parse(change.address)]
        async with gate:
            try:
                found = await kind_of(change.kind).precheck(resource, config.resources, remote)
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


def bind_account(config: Config, account: str) -> Config:
    """``config`` with its account-relative values written for ``account`` (``Kind.bind``: an external deployment
    of this account is named by its ID, as live LoRAs on it read back)."""
    bound = {a: kind_of(r.kind).bind(r.attributes, account) for a, r in config.resources.items()}
    if all(bound[a] is r.attributes for a, r in config.resources.items()):
        return config
    resources: dict[Address, Resource] = {a: replace(r, attributes=bound[a]) for a, r in config.resources.items()}
    return replace(config, resources=MappingProxyType(resources))


async def make_plan(
    config: Config, provider: Provider, state: State, sink: EventSink, options: PlanOptions = PlanOptions()
) -> Planned:
    check_state_addresses(state)
    config = bind_account(config, provider.account)
    known = {str(a) for a in config.resources} | set(state.resources)
    options = replace(options, targets=with_fleet_items(options.targets, known),
                      replace=with_fleet_items(options.replace, known))
    state = state.bound_to(provider.account, provider.endpoint)  # before any request: a wrong account is an error
    observed = await refresh(provider, sink)
    state, notes = reconcile(state, observed)
    state, moved_notes, move_errors = apply_moves(state, config.moves)
    notes += moved_notes
    for note in notes:
        sink.emit(Note(note))
    changes = diff(
        config.resources, state, observed, provider.account,
        replace=options.replace, destroy=options.destroy,
    )
    by_address = {c.address: c for c in changes}
    if options.targets:
        keep = _with_dependencies(options.targets, by_address)
        # deletes of dependents of a targeted resource go too (they must go first)
        keep |= {c.address for c in changes if c.action in (Action.DELETE, Action.REPLACE)
                 and set(c.depends_on) & keep}
        changes = tuple(c if c.address in keep else replace(c, action=Action.NOOP, attributes=()) for c in changes)
    errors: list[Diagnostic] = prevent_destroy_violations(changes, config.resources) + move_errors
    errors += unknown_addresses(options, config, state)
    errors += one_fate(changes, config.resources) + adoption_refused(changes, config.resources)
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
    names = [r.remote_name for r in state.resources.values()] + desired_names
    fp, digests = fingerprint(config, state, observed, names)
    ignore = {str(a): r.lifecycle.ignore_changes for a, r in config.resources.items()}
    plan = Plan(
        changes=changes,
        drift=drift(state, observed, ignore),
        unmanaged=unmanaged(state, observed, desired_names),
        fingerprint=fp,
        errors=tuple(sorted(errors)),
        observed_digests=frozen_mapping(digests),
        destroy=options.destroy,
        targets=tuple(sorted(options.targets)),
    )
    return Planned(plan, state, observed, notes)



def totals_by_kind(observed: Observed) -> dict[str, int]:
    """How many live objects of each kind refresh saw (sizes a LIST for the poller)."""
    totals: dict[str, int] = {}
    for obj in observed.objects.values():
        totals[obj.kind] = totals.get(obj.kind, 0) + 1
    return totals
