"""Applier: execute a plan in dependency order, waiting for each resource, recording state after every step."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

from lorainfra.config.model import frozen_mapping
from lorainfra.engine.events import (
    EventSink,
    Note,
    OperationFinished,
    OperationProgress,
    OperationSkipped,
    OperationStarted,
)
from lorainfra.engine.poller import Poller
from lorainfra.engine.walk import walk
from lorainfra.errors import ApiError, LockError, LorainfraError, OperationError, TransportError
from lorainfra.plan.diff import attribute_changes
from lorainfra.plan.model import Action, Change, Plan
from lorainfra.providers.base import DEPLOYMENT_READY, LORA_READY, Provider, RemoteObject
from lorainfra.state.backend import StateBackend
from lorainfra.state.model import PendingOp, ResourceState, State

Node = tuple[str, str]  # (operation, address)


@dataclass(frozen=True)
class ApplyOptions:
    parallelism: int = 10
    deployment_timeout: float = 3600.0
    lora_timeout: float = 1800.0
    poll_min: float = 0.1
    poll_max: float = 5.0


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


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def build_nodes(plan: Plan, state: State) -> dict[Node, tuple[Node, ...]]:
    """Operation nodes and their dependencies: creates after their dependencies, deletes in reverse."""
    changes = {c.address: c for c in plan.actionable}
    forward: dict[str, Node] = {}
    deletes: dict[str, Node] = {}
    nodes: dict[Node, set[Node]] = {}
    for address, change in changes.items():
        if change.action in (Action.DELETE, Action.REPLACE):
            deletes[address] = ("delete", address)
            nodes[deletes[address]] = set()
        if change.action in (Action.CREATE, Action.UPDATE, Action.REPLACE):
            op = "update" if change.action is Action.UPDATE else "create"
            forward[address] = (op, address)
            nodes[forward[address]] = set()
            if address in deletes:
                nodes[forward[address]].add(deletes[address])
    for address, node in forward.items():
        for dep in changes[address].depends_on:
            if dep in forward:
                nodes[node].add(forward[dep])
    for address, node in deletes.items():
        # a delete waits for the deletes of everything that depended on it (LoRAs before their deployment)
        for other, other_node in deletes.items():
            recorded = state.resources.get(other)
            other_deps = set(changes[other].depends_on) | set(recorded.dependencies if recorded else ())
            if address in other_deps and other != address:
                nodes[node].add(other_node)
    return {n: tuple(sorted(d)) for n, d in sorted(nodes.items())}


class Applier:
    """Runs one plan. Holds the current state and writes it after every completed operation."""

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
    ) -> None:
        self.provider = provider
        self.backend = backend
        self.state = state
        self.sink = sink
        self.options = options
        self.operation = operation
        self.stop = stop or asyncio.Event()
        self._write_lock = asyncio.Lock()
        self._acted: set[str] = set()
        self._poller = Poller(provider, totals)  # waits share requests
        self._slot_pool = asyncio.Semaphore(options.parallelism)
        self._slots: dict[str, _Slot] = {}
        self._generation = 0  # changes applied to self.state in memory
        self._written = 0  # changes known to be durable in the backend

    async def _update_state(self, fn: Any) -> None:
        """Apply ``fn`` to the state now, and return once a write that includes it is durable.

        Group commit: while one write is in flight (in a thread, so waits and requests go on), every
        change made meanwhile is collected and the next write stores them all at once. A create's
        pending marker is therefore durable before the create is sent, at a fraction of the writes.
        """
        self.state = fn(self.state)
        self._generation += 1
        wanted = self._generation
        async with self._write_lock:
            if self._written >= wanted:
                return  # a write that started after our change already stored it
            generation, snapshot = self._generation, self.state
            if self.backend is None:
                written = snapshot.next_serial()
            else:
                written = await asyncio.to_thread(self.backend.write, snapshot, operation=self.operation)
            self._written = generation
            self.state = replace(self.state, serial=written.serial)  # later changes kept; serial moves on

    async def run(self, plan: Plan) -> ApplyResult:
        changes = {c.address: c for c in plan.actionable}
        self._acted = set(changes)
        nodes = build_nodes(plan, self.state)
        if self.state.serial == 0 and self.backend is not None and self.backend.read() is None:
            await self._update_state(lambda s: s)  # create the state document (lineage) up front

        async def run_node(node: Node) -> None:
            op, address = node
            slot = self._slots[address] = _Slot(self._slot_pool)
            await slot.take()
            if self.backend is not None and (lost := await asyncio.to_thread(self.backend.lock_lost)):
                slot.give()  # a run that lost its lock starts nothing new (the next run takes over)
                raise LockError(f"not started: {lost}")
            self.sink.emit(OperationStarted(address, op))
            started = time.monotonic()
            try:
                await self._run(op, changes[address])
            except BaseException as exc:
                self.sink.emit(OperationFinished(address, op, False, time.monotonic() - started, _reason(exc)))
                raise
            finally:
                slot.give()
            self.sink.emit(OperationFinished(address, op, True, time.monotonic() - started))

        # every node may start once its dependencies are done; --parallelism bounds the operations that
        # are sending requests (a slot is given back while an operation only waits for readiness)
        outcomes = await walk(nodes, run_node, parallelism=max(1, len(nodes)), stop=self.stop)
        applied, failed, skipped, not_started, stopped = [], [], [], [], []
        for (op, address), outcome in sorted(outcomes.items()):
            label = f"{address} ({op})"
            cause = outcomes.get(outcome.because) if outcome.because is not None else None
            if outcome.status == "ok":
                applied.append(label)
            elif outcome.status == "failed" and isinstance(outcome.error, Interrupted):
                stopped.append((label, _reason(outcome.error)))
            elif outcome.status == "failed":
                failed.append((label, _reason(outcome.error)))
            elif outcome.status == "skipped" and cause is not None and isinstance(cause.error, Interrupted):
                not_started.append(label)  # its dependency was stopped by the interrupt, not failed
            elif outcome.status == "skipped":
                because = outcome.because[1] if outcome.because else "?"
                skipped.append((label, because))
                self.sink.emit(OperationSkipped(address, op, because))
            else:
                not_started.append(label)
        return ApplyResult(tuple(applied), tuple(failed), tuple(skipped), tuple(not_started), self.state,
                           interrupted=self.stop.is_set(), stopped=tuple(stopped))

    # ------------------------------------------------------------------ operations
    async def _run(self, op: str, change: Change) -> None:
        if op == "delete":
            await self._delete(change)
        elif op == "update":
            await self._update(change)
        elif change.kind == "deployment":
            await self._create_deployment(change)
        else:
            await self._create_lora(change)

    def _record(self, change: Change, obj: RemoteObject) -> Any:
        attrs = frozen_mapping(change.after or {})

        def fn(state: State) -> State:
            return state.without_pending(change.address).with_resource(
                ResourceState(change.address, change.kind, obj.name, attrs, change.depends_on, obj.digest)
            )

        return fn

    async def _create_deployment(self, change: Change) -> None:
        dep_id = change.address.split(".", 1)[1]
        name = self.provider.deployment_name(dep_id)
        after = change.after or {}
        pending = PendingOp(change.address, "create", "deployment", frozen_mapping({"remote_name": name}),
                            frozen_mapping(after), change.depends_on, _now())
        await self._update_state(lambda s: s.with_pending(pending))
        try:
            obj = await self.provider.create("deployment", dep_id, after)
        except (ApiError, TransportError) as exc:
            if _ambiguous(exc) or not isinstance(exc, ApiError):
                # the create may have reached the server before the answer was lost: read to find out
                obj = await self._resolve_lost_create(change, exc, lambda: self.provider.get("deployment", name))
            elif exc.status != 409:
                await self._update_state(lambda s: s.without_pending(change.address))
                raise OperationError(change.address, "create", exc.message) from exc
            else:
                obj = await self._adopt_existing_deployment(change, name, exc)
        await self._update_state(self._record(change, obj))
        obj = await self._wait(change, obj.name, DEPLOYMENT_READY, self.options.deployment_timeout)
        diffs = attribute_changes("deployment", after, obj.attributes)
        if diffs:
            obj = await self.provider.update("deployment", obj.name, after, tuple(d.name for d in diffs))
            obj = await self._wait(change, obj.name, DEPLOYMENT_READY, self.options.deployment_timeout)
        await self._update_state(self._record(change, obj))

    async def _adopt_existing_deployment(self, change: Change, name: str, exc: ApiError) -> RemoteObject:
        existing = await self.provider.get("deployment", name)
        if existing is None or existing.gone:
            await self._update_state(lambda s: s.without_pending(change.address))
            raise OperationError(change.address, "create",
                                 f"{exc.message} (the ID is taken by a deleted deployment; undelete or purge it)") from exc
        self.sink.emit(Note(f"{change.address}: {name} already exists (an earlier attempt?); adopting it"))
        return existing

    async def _resolve_lost_create(self, change: Change, exc: Exception, read: Any) -> RemoteObject:
        """A create ended in an error that does not say whether the server acted: adopt what a read finds."""
        reason = exc.message if isinstance(exc, ApiError) else str(exc)
        try:
            found = await read()
        except LorainfraError:
            # still unknown: keep the pending marker; the next run resolves it by reading
            raise OperationError(change.address, "create", f"{reason} (outcome unknown; the next run will check)") from exc
        if found is None or found.gone:
            await self._update_state(lambda s: s.without_pending(change.address))
            raise OperationError(change.address, "create", reason) from exc
        self.sink.emit(Note(f"{change.address}: the create reached the account although its answer was lost; adopting {found.name}"))
        return found

    async def _create_lora(self, change: Change) -> None:
        after = change.after or {}
        identity = {"model": after.get("model", ""), "deployment": after.get("deployment", ""),
                    "serverless": bool(after.get("serverless", False))}
        pending = PendingOp(change.address, "create", "lora", frozen_mapping(identity),
                            frozen_mapping(after), change.depends_on, _now())
        dep_id = str(after.get("deployment") or "")
        if dep_id and f"deployment.{dep_id}" not in self._acted:
            # the deployment is not touched by this run, but an interrupted earlier run may have left it
            # still CREATING/UPDATING: a LoRA can only be loaded once it is READY
            await self._wait(change, self.provider.deployment_name(dep_id), DEPLOYMENT_READY,
                             self.options.deployment_timeout, kind="deployment")
        await self._update_state(lambda s: s.with_pending(pending))
        find = lambda: self.provider.find_lora(  # noqa: E731
            str(identity["model"]), str(identity["deployment"]), bool(identity["serverless"]))
        try:
            obj = await self.provider.create("lora", "", after)
        except (ApiError, TransportError) as exc:
            found: RemoteObject | None
            if _ambiguous(exc) or not isinstance(exc, ApiError):
                found = await self._resolve_lost_create(change, exc, find)
            else:
                found = await find() if exc.status == 409 else None
                if found is None:
                    await self._update_state(lambda s: s.without_pending(change.address))
                    raise OperationError(change.address, "load", exc.message) from exc
                self.sink.emit(Note(f"{change.address}: already loaded as {found.name}; adopting it"))
            obj = found
        await self._update_state(self._record(change, obj))
        obj = await self._wait(change, obj.name, LORA_READY, self.options.lora_timeout)
        await self._update_state(self._record(change, obj))

    async def _update(self, change: Change) -> None:
        after = change.after or {}
        changed = tuple(a.name for a in change.attributes)
        try:
            obj = await self.provider.update(change.kind, change.remote_name, after, changed)
        except ApiError as exc:
            raise OperationError(change.address, "update", exc.message) from exc
        target = DEPLOYMENT_READY if change.kind == "deployment" else LORA_READY
        timeout = self.options.deployment_timeout if change.kind == "deployment" else self.options.lora_timeout
        obj = await self._wait(change, obj.name or change.remote_name, target, timeout)
        await self._update_state(self._record(change, obj))

    async def _delete(self, change: Change) -> None:
        name = change.remote_name or (self.state.resources[change.address].remote_name
                                      if change.address in self.state.resources else "")
        if name:
            try:
                await self.provider.delete(change.kind, name)
            except ApiError as exc:
                raise OperationError(change.address, "delete", exc.message) from exc
            await self._wait_gone(change, name)
        await self._update_state(lambda s: s.without_resource(change.address))

    # ------------------------------------------------------------------ waiting
    async def _wait(
        self, change: Change, name: str, target: str, timeout: float, *, kind: str | None = None
    ) -> RemoteObject:
        slot = self._slots.get(change.address)
        if slot is not None:
            slot.give()  # waiting costs only polls (shared and rate-limited): let others work meanwhile
        try:
            return await self._wait_ready(change, name, target, timeout, kind=kind)
        finally:
            if slot is not None:
                await slot.take()

    async def _wait_ready(
        self, change: Change, name: str, target: str, timeout: float, *, kind: str | None = None
    ) -> RemoteObject:
        started = time.monotonic()
        last = ""
        kind = kind or change.kind
        while True:
            obj = await self._poller.get(kind, name)
            elapsed = time.monotonic() - started
            if obj is None or obj.gone:
                raise OperationError(change.address, "wait", f"{name} disappeared while waiting for {target}")
            if obj.state != last:
                last = obj.state
                self.sink.emit(OperationProgress(change.address, "wait", obj.state, elapsed))
            if obj.state == target:
                return obj
            if obj.failed:
                raise OperationError(change.address, "wait", f"{name} is {obj.state}: {obj.status_message or 'no detail'}")
            if elapsed > timeout:
                raise OperationError(change.address, "wait", f"timed out after {timeout:.0f}s; {name} is {obj.state}")
            if self.stop.is_set():
                raise Interrupted(f"stopped while waiting; {name} is {obj.state} and recorded")
            await asyncio.sleep(min(max(elapsed * 0.1, self.options.poll_min), self.options.poll_max))

    async def _wait_gone(self, change: Change, name: str) -> None:
        slot = self._slots.get(change.address)
        if slot is not None:
            slot.give()
        try:
            await self._wait_until_gone(change, name)
        finally:
            if slot is not None:
                await slot.take()

    async def _wait_until_gone(self, change: Change, name: str) -> None:
        started = time.monotonic()
        timeout = self.options.deployment_timeout if change.kind == "deployment" else self.options.lora_timeout
        while True:
            obj = await self._poller.get(change.kind, name)
            elapsed = time.monotonic() - started
            if obj is None or obj.state == "DELETED":
                return
            self.sink.emit(OperationProgress(change.address, "delete", obj.state, elapsed))
            if elapsed > timeout:
                raise OperationError(change.address, "delete", f"timed out after {timeout:.0f}s; {name} is {obj.state}")
            await asyncio.sleep(min(max(elapsed * 0.1, self.options.poll_min), self.options.poll_max))


class _Slot:
    """One operation's hold on a --parallelism slot; given back while it waits, taken again after."""

    def __init__(self, pool: asyncio.Semaphore) -> None:
        self.pool = pool
        self.held = False

    async def take(self) -> None:
        if not self.held:
            await self.pool.acquire()
            self.held = True

    def give(self) -> None:
        if self.held:
            self.held = False
            self.pool.release()


def _ambiguous(exc: Exception) -> bool:
    """Whether a failed call may still have been carried out by the server (lost answer, 5xx, timeout)."""
    return isinstance(exc, TransportError) or (isinstance(exc, ApiError) and (exc.status >= 500 or exc.status in (408, 429)))


def _reason(exc: BaseException | None) -> str:
    if exc is None:
        return ""
    if isinstance(exc, OperationError):
        return exc.reason
    if isinstance(exc, asyncio.CancelledError):
        return "cancelled"
    return str(exc) or type(exc).__name__


def summarize(result: ApplyResult) -> Mapping[str, int]:
    return {"applied": len(result.applied), "failed": len(result.failed), "skipped": len(result.skipped)}
