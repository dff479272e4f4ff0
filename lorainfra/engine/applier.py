"""Applier: carry out a plan's steps in dependency order, waiting for each resource, journaling state."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field

from lorainfra.engine.events import (
    EventSink,
    Note,
    OperationFinished,
    OperationSkipped,
    OperationStarted,
)
from lorainfra.engine.heap import long_lived_frozen
from lorainfra.engine.journal import Edit, Journal
from lorainfra.engine.limiter import Limiter, Slot
from lorainfra.engine.lockwatch import LockWatch
from lorainfra.engine.planner import allow_adoption_hint
from lorainfra.engine.poller import Poller
from lorainfra.engine.progress import WaitProgress
from lorainfra.engine.walk import walk
from lorainfra.errors import ApiError, LockError, LorainfraError, OperationError, Span, TransportError
from lorainfra.frozen import frozen_mapping
from lorainfra.kinds.base import Kind
from lorainfra.kinds.registry import kind_of
from lorainfra.live import RemoteObject
from lorainfra.plan.diff import attribute_changes
from lorainfra.plan.model import Change, Plan
from lorainfra.plan.steps import Op, Step, build_steps
from lorainfra.providers.base import Provider
from lorainfra.state.backend import StateBackend
from lorainfra.state.model import PendingOp, ResourceState, State


@dataclass(frozen=True)
class ApplyOptions:
    """How to apply: operations sending requests at once, how often to poll while waiting, how often a
    wait says it is still waiting, and the clock elapsed times are read from (tests inject one).

    How long to wait for a resource is its kind's ``ready_timeout``.
    """

    parallelism: int = 10
    poll_min: float = 0.1
    poll_max: float = 5.0
    heartbeat: float = 30.0
    clock: Callable[[], float] = field(default=time.monotonic, compare=False)
    lock_check_interval: float = 1.0  # seconds of ``clock`` between asking the backend whether the lock is lost


@dataclass(frozen=True)
class ApplyResult:
    """What happened: applied, failed (with reason), skipped (with the failed dependency), not started."""

    applied: tuple[str, ...]
    failed: tuple[tuple[str, str], ...]
    skipped: tuple[tuple[str, str], ...]
    not_started: tuple[str, ...]
    state: State
    interrupted: bool = False
    stopped: tuple[tuple[str, str], ...] = ()  # in flight when stop was requested: recorded, not finished

    @property
    def ok(self) -> bool:
        return not self.failed and not self.skipped and not self.not_started and not self.stopped


class Interrupted(LorainfraError):
    """Stop requested while waiting; the object exists and is recorded."""


def retryable(exc: Exception) -> bool:
    """Whether a failed call may still have been carried out by the server (lost answer, 5xx, 408, 429).

    The one rule for "the server may have acted": the provider retries exactly these, and a create
    that ends in one is resolved by reading before anything else is decided.
    """
    return isinstance(exc, TransportError) or (isinstance(exc, ApiError) and exc.retryable)


class Applier:
    """Runs one plan. Every state change goes through its journal."""

    def __init__(
        self,
        provider: Provider,
        backend: StateBackend | None,
        state: State,
        sink: EventSink,
        options: ApplyOptions = ApplyOptions(),
        *,
        operation: str = "apply",
        stop: asyncio.Event | None = None,
        totals: Mapping[str, int] | None = None,
        journal: Journal | None = None,
        spans: Mapping[str, Span] | None = None,
    ) -> None:
        self.provider = provider
        self.backend = backend
        self.journal = journal or Journal(backend, state, operation=operation)
        self.sink = sink
        self.options = options
        self.stop = stop or asyncio.Event()
        self._acted: set[str] = set()
        self._poller = Poller(provider, totals)  # waits share requests
        self._limiter = Limiter(options.parallelism)
        self._spans = dict(spans or {})  # address -> where the config declares it (for failures)

    @property
    def state(self) -> State:
        return self.journal.state

    async def run(self, plan: Plan) -> ApplyResult:
        changes = {c.address: c for c in plan.actionable}
        self._acted = set(changes)
        steps = build_steps(plan, self.state)
        await self.journal.open()  # create the state document (lineage) up front
        lock = LockWatch(self.backend, self.options.clock, self.options.lock_check_interval)

        async def run_step(step: Step) -> None:
            async with self._limiter.slot() as slot:
                if lost := await lock.lost():
                    raise LockError(f"not started: {lost}")  # a run that lost its lock starts nothing new
                self.sink.emit(OperationStarted(step.address, step.op))
                started = self.options.clock()
                try:
                    await self._run_located(step, changes[step.address], slot)
                except BaseException as exc:
                    self.sink.emit(OperationFinished(step.address, step.op, False, self.options.clock() - started,
                                                     _reason(exc)))
                    raise
            self.sink.emit(OperationFinished(step.address, step.op, True, self.options.clock() - started))

        # every step may start once the steps it waits for are done; the limiter bounds the ones
        # sending requests. What is alive now (plan, state, config) is kept out of full collections
        with long_lived_frozen():
            outcomes = await walk(steps, run_step, stop=self.stop, order_key=Step.sort_key)
        applied, failed, skipped, not_started, stopped = [], [], [], [], []
        for step, outcome in sorted(outcomes.items()):
            cause = outcomes.get(outcome.because) if outcome.because is not None else None
            if outcome.status == "ok":
                applied.append(step.label)
            elif outcome.status == "failed" and isinstance(outcome.error, Interrupted):
                stopped.append((step.label, _reason(outcome.error)))
            elif outcome.status == "failed":
                failed.append((step.label, _reason(outcome.error)))
            elif outcome.status == "skipped" and cause is not None and isinstance(cause.error, Interrupted):
                not_started.append(step.label)  # its dependency was stopped by the interrupt, not failed
            elif outcome.status == "skipped":
                because = outcome.because.address if outcome.because else "?"
                skipped.append((step.label, because))
                self.sink.emit(OperationSkipped(step.address, step.op, because))
            else:
                not_started.append(step.label)
        return ApplyResult(tuple(applied), tuple(failed), tuple(skipped), tuple(not_started), self.state,
                           interrupted=self.stop.is_set(), stopped=tuple(stopped))

    # ------------------------------------------------------------------ operations
    async def _run_located(self, step: Step, change: Change, slot: Slot) -> None:
        """Run one step; a failure names where the resource is declared."""
        try:
            await self._run(step.op, change, slot)
        except OperationError as exc:
            span = self._spans.get(step.address)
            if exc.span is not None or span is None:
                raise
            raise OperationError(exc.address, exc.operation, exc.reason, span) from exc

    async def _run(self, op: Op, change: Change, slot: Slot) -> None:
        if op is Op.DELETE:
            await self._delete(change, slot)
        elif op is Op.UPDATE:
            await self._update(change, slot)
        else:
            await self._create(change, slot)

    def _record(self, change: Change, obj: RemoteObject) -> Edit:
        attrs = frozen_mapping(change.after or {})

        def edit(state: State) -> State:
            old = state.resources.get(change.address)
            if change.create_first and old is not None and old.remote_name != obj.name:
                state = state.with_deposed(old)  # the old copy is deleted later: remembered until it is
            return state.without_pending(change.address).with_resource(
                ResourceState(change.address, change.kind, obj.name, attrs, change.depends_on, obj.digest)
            )

        return edit

    def _forget_pending(self, change: Change) -> Edit:
        return lambda s: s.without_pending(change.address)

    async def _create(self, change: Change, slot: Slot) -> None:
        kind = kind_of(change.kind)
        resource_name = change.address.split(".", 1)[1]
        after = change.after or {}
        identity = kind.identity(resource_name, after, self.provider.account)
        for needed in kind.prerequisites(after):
            if str(needed) not in self._acted:
                # not touched by this run, but an interrupted earlier run may have left it not ready
                needed_kind = kind_of(needed.kind)
                await self._wait(change, slot, self.provider.remote_name(needed.kind, needed.name), needed_kind,
                                 waiting_for=str(needed))
        pending = PendingOp(change.address, "create", kind.name, identity, frozen_mapping(after),
                            change.depends_on, self.journal.now())
        await self.journal.commit(lambda s: s.with_pending(pending))
        try:
            obj = await self.provider.create(kind.name, kind.remote_id(resource_name), after)
        except (ApiError, TransportError) as exc:
            obj = await self._after_failed_create(change, kind, identity, exc, slot)
        await self.journal.commit(self._record(change, obj))
        obj = await self._wait(change, slot, obj.name, kind, created=obj.create_time)
        if kind.settle_after_create:
            diffs = attribute_changes(kind.name, after, obj.attributes)
            if diffs:  # an adopted object differs from the config
                merged = {**obj.attributes, **after}  # desired over live: a sub-object goes whole
                obj = await self.provider.update(kind.name, obj.name, merged, tuple(d.name for d in diffs))
                obj = await self._wait(change, slot, obj.name, kind)
        await self.journal.commit(self._record(change, obj))

    async def _after_failed_create(
        self, change: Change, kind: Kind, identity: Mapping[str, object], exc: ApiError | TransportError, slot: Slot
    ) -> RemoteObject:
        """A create failed: adopt what the server made anyway (lost answer, 409), reclaim an ID a soft-deleted
        object holds (409), or forget the marker."""
        find: Callable[[], Awaitable[RemoteObject | None]] = lambda: self.provider.find(kind.name, identity)  # noqa: E731
        if retryable(exc):
            return await self._resolve_lost_create(change, kind, exc, find)
        assert isinstance(exc, ApiError)
        if exc.status == 409:
            found = await find()
            if found is not None and not found.gone and change.adoption_refused and not exc.retried:
                # made between plan and apply by someone else: not ours to take over (after a retry, the 409 may be
                # our own earlier attempt's object: that is a lost answer, taken as below)
                await self.journal.commit(self._forget_pending(change))
                raise OperationError(change.address, kind.create_verb, refused_adoption_reason(change, found.name)) from exc
            if found is not None and not found.gone:
                self.sink.emit(Note(kind.adopt_note(change.address, found.name)))
                return found
            if found is not None and found.gone:  # soft-deleted (it holds the ID), or a delete still running
                return await self._reclaim(change, kind, found, slot, find, exc)
            await self.journal.commit(self._forget_pending(change))
            raise OperationError(change.address, kind.create_verb, kind.conflict_reason(exc.message)) from exc
        await self.journal.commit(self._forget_pending(change))
        raise OperationError(change.address, kind.create_verb, exc.message) from exc

    async def _reclaim(
        self, change: Change, kind: Kind, held: RemoteObject, slot: Slot,
        find: Callable[[], Awaitable[RemoteObject | None]], conflict: ApiError,
    ) -> RemoteObject:
        """The ID is held by a gone object. A delete still running is waited for first (then the ID is free, or
        held by the soft-deleted object). A soft-deleted one is undeleted (the create's settle step then updates it
        to the config), or, when it cannot become the config in place, deleted for good: wait for 404, create."""
        after = change.after or {}
        resource_id = kind.remote_id(change.address.split(".", 1)[1])
        try:
            if not kind.holds_id(held):
                self.sink.emit(Note(f"{change.address}: {held.name} is {held.state}; waiting for that delete to end"))
                async with slot.lent():
                    await self._poll_until_gone(change, kind, held.name)
                current = await find()
                if current is None:
                    return await self.provider.create(kind.name, resource_id, after)
                if not kind.holds_id(current):
                    raise conflict
                held = current
            self.sink.emit(Note(f"{change.address}: {kind.reclaim_note(held, after)}"))
            if kind.undelete_fits(held.attributes, after):
                return await self.provider.undelete(kind.name, held.name)
            await self.provider.delete(kind.name, held.name)
            async with slot.lent():
                await self._poll_until_gone(change, kind, held.name, absent=True)
            return await self.provider.create(kind.name, resource_id, after)
        except ApiError as exc:
            await self.journal.commit(self._forget_pending(change))
            reason = kind.conflict_reason(exc.message) if exc is conflict else exc.message
            raise OperationError(change.address, kind.create_verb, reason) from exc

    async def _resolve_lost_create(
        self, change: Change, kind: Kind, exc: Exception, find: Callable[[], Awaitable[RemoteObject | None]]
    ) -> RemoteObject:
        """A create ended in an error that does not say whether the server acted: adopt what a read finds."""
        reason = exc.message if isinstance(exc, ApiError) else str(exc)
        try:
            found = await find()
        except LorainfraError:
            # still unknown: keep the pending marker; the next run resolves it by reading
            raise OperationError(change.address, "create", f"{reason} (outcome unknown; the next run will check)") from exc
        if found is None or found.gone:
            await self.journal.commit(self._forget_pending(change))
            raise OperationError(change.address, "create", reason) from exc
        self.sink.emit(Note(f"{change.address}: the create reached the account although its answer was lost; adopting {found.name}"))
        return found

    async def _update(self, change: Change, slot: Slot) -> None:
        kind = kind_of(change.kind)
        # the desired values over the live ones: a sub-object goes whole (Kind.update_request); a reset
        # attribute is left out, so that the mask naming it returns it to the server's default
        resets = {a.name for a in change.attributes if a.reset}
        after = {k: v for k, v in {**(change.before or {}), **(change.after or {})}.items() if k not in resets}
        changed = tuple(a.name for a in change.attributes if a.sent)
        if not changed:  # only kept values (removed keys Fireworks cannot reset): only the state changes
            found = await self._poller.get(kind.name, change.remote_name)
            if found is None or found.gone:
                raise OperationError(change.address, "update", f"{change.remote_name} is no longer live")
            await self.journal.commit(self._record(change, found))
            return
        # durable before the update is sent: an interrupted run's update is reconciled by the next plan
        pending = PendingOp(change.address, "update", kind.name, frozen_mapping({"remote_name": change.remote_name}),
                            frozen_mapping(change.after or {}), change.depends_on, self.journal.now())
        await self.journal.commit(lambda s: s.with_pending(pending))
        try:
            obj = await self.provider.update(kind.name, change.remote_name, after, changed)
        except ApiError as exc:
            if not exc.retryable:  # refused: nothing changed
                await self.journal.commit(self._forget_pending(change))
            raise OperationError(change.address, "update", exc.message) from exc
        obj = await self._wait(change, slot, obj.name or change.remote_name, kind)
        await self.journal.commit(self._record(change, obj))

    async def _delete(self, change: Change, slot: Slot) -> None:
        kind = kind_of(change.kind)
        recorded = self.state.resources.get(change.address)
        name = change.remote_name or (recorded.remote_name if recorded else "")
        if name and name not in self.state.deposed:  # a deposed copy is its own marker
            pending = PendingOp(change.address, "delete", kind.name, frozen_mapping({"remote_name": name}),
                                started_at=self.journal.now())
            await self.journal.commit(lambda s: s.with_pending(pending))
        if name:
            try:
                await self.provider.delete(kind.name, name)
            except ApiError as exc:
                if not exc.retryable and change.address in self.state.pending:  # refused: nothing changed
                    await self.journal.commit(self._forget_pending(change))
                raise OperationError(change.address, "delete", exc.message) from exc
            async with slot.lent():
                await self._poll_until_gone(change, kind, name)
        await self.journal.commit(lambda s: _without_object(s, change.address, name))

    # ------------------------------------------------------------------ waiting
    async def _wait(self, change: Change, slot: Slot, name: str, kind: Kind, waiting_for: str = "",
                    created: str = "") -> RemoteObject:
        """Wait for ``name`` to be ready, lending the slot meanwhile (waiting costs only shared polls).

        ``waiting_for``: ``name`` is another resource this one needs (its states are not this one's).
        ``created``: its ``createTime`` when this run just created it (polls then read the newest objects only)."""
        async with slot.lent():
            return await self._poll_until_ready(change, name, kind, waiting_for, created)

    def _pause(self, elapsed: float) -> float:
        return min(max(elapsed * 0.1, self.options.poll_min), self.options.poll_max)

    def _progress(self, change: Change, operation: str) -> WaitProgress:
        return WaitProgress(self.sink, change.address, operation, self.options.clock, self.options.heartbeat)

    async def _poll_until_ready(self, change: Change, name: str, kind: Kind, waiting_for: str = "",
                                created: str = "") -> RemoteObject:
        progress = self._progress(change, "wait")
        target = kind.ready_state
        while True:
            obj = await self._poller.get(kind.name, name, created)
            if obj is None or obj.gone:
                raise OperationError(change.address, "wait", f"{name} disappeared while waiting for {target}")
            if obj.state == target and waiting_for:
                return obj  # ready: nothing to say (another resource's states are not this one's)
            elapsed = progress.saw(f"waiting for {waiting_for}" if waiting_for else obj.state)
            if obj.state == target:
                return obj
            if obj.failed:
                raise OperationError(change.address, "wait", f"{name} is {obj.state}: {obj.status_message or 'no detail'}")
            if elapsed > kind.ready_timeout:
                raise OperationError(change.address, "wait", f"timed out after {kind.ready_timeout:.0f}s; {name} is {obj.state}")
            if self.stop.is_set():
                raise Interrupted(f"stopped while waiting; {name} is {obj.state} and recorded")
            await asyncio.sleep(self._pause(elapsed))

    async def _poll_until_gone(self, change: Change, kind: Kind, name: str, *, absent: bool = False) -> None:
        """Until the delete of ``name`` is done (``Kind.deleted``), or with ``absent`` until it 404s (its ID is
        free again: a soft-deleted object still holds it)."""
        progress = self._progress(change, "delete")
        while True:
            obj = await self._poller.get(kind.name, name)
            if obj is None or (not absent and kind.deleted(obj)):
                return
            assert obj is not None
            elapsed = progress.saw(obj.state)
            if elapsed > kind.ready_timeout:
                raise OperationError(change.address, "delete", f"timed out after {kind.ready_timeout:.0f}s; {name} is {obj.state}")
            await asyncio.sleep(self._pause(elapsed))


def _without_object(state: State, address: str, name: str) -> State:
    """Forget ``address`` unless it already records another object (a replacement created first), its
    delete marker, and ``name`` as a deposed copy."""
    state = state.without_deposed(name)
    pending = state.pending.get(address)
    if pending is not None and pending.operation == "delete":
        state = state.without_pending(address)
    recorded = state.resources.get(address)
    if recorded is not None and name and recorded.remote_name != name:
        return state
    return state.without_resource(address)


def _reason(exc: BaseException | None) -> str:
    if exc is None:
        return ""
    if isinstance(exc, OperationError):
        return exc.reason + (f" (declared at {exc.span})" if exc.span is not None else "")
    if isinstance(exc, asyncio.CancelledError):
        return "cancelled"
    return str(exc) or type(exc).__name__


def refused_adoption_reason(change: Change, found: str) -> str:
    """Why a create that met a live object made after the plan fails instead of adopting it."""
    return (f"{found} was made outside this run after the plan (it exists live but not in the state), and "
            f"{change.adoption_refused}: it was not adopted; import it (lorainfra import {change.address} {found}) "
            f"or {allow_adoption_hint(change.adoption_refused)}, then plan again")
