"""Session: one apply (or destroy) from start to end, in one place.

lock -> read state -> plan -> stale check of a saved plan -> confirm (a callback the caller gives)
-> record resolved pending operations -> apply -> the state the journal wrote. The CLI and the
test kits call this; none keeps its own copy of the sequence.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import ExitStack, asynccontextmanager
from dataclasses import dataclass, field
from datetime import datetime

from lorainfra.config.model import Config
from lorainfra.engine.applier import Applier, ApplyOptions, ApplyResult, Interrupted
from lorainfra.engine.events import EventSink
from lorainfra.engine.journal import Journal, utc_now
from lorainfra.engine.planner import Planned, PlanOptions, make_plan, totals_by_kind
from lorainfra.engine.stopping import until_stopped
from lorainfra.plan.diff import accept_drift
from lorainfra.plan.model import Plan
from lorainfra.plan.planfile import ensure_fresh, ensure_lifecycle
from lorainfra.providers.base import Provider
from lorainfra.state.backend import StateBackend
from lorainfra.state.model import State

Confirm = Callable[[Plan], Awaitable[bool]]


@dataclass(frozen=True)
class SessionOptions:
    """What to apply and how: the plan's options, the applier's, the operation's name and lock wait."""

    plan: PlanOptions = field(default_factory=PlanOptions)
    apply: ApplyOptions = field(default_factory=ApplyOptions)
    operation: str = "apply"  # "apply" | "destroy": recorded with the lock and every state write
    lock_timeout: float = 0.0


@dataclass(frozen=True)
class SessionResult:
    """The plan that was made, and what applying it did (None: plan errors, nothing to do, or declined)."""

    planned: Planned
    result: ApplyResult | None = None
    declined: bool = False


@asynccontextmanager
async def locked(backend: StateBackend, operation: str, timeout: float) -> AsyncIterator[None]:
    """Hold the state lock; waiting for it happens in a thread, so the event loop still sees Ctrl-C."""
    lock = backend.lock(operation, timeout=timeout)
    await asyncio.to_thread(lock.__enter__)
    try:
        yield
    except BaseException as exc:
        if not lock.__exit__(type(exc), exc, exc.__traceback__):
            raise
    else:
        lock.__exit__(None, None, None)


async def apply_session(
    config: Config,
    provider: Provider,
    backend: StateBackend,
    *,
    options: SessionOptions = SessionOptions(),
    plan_sink: EventSink,
    apply_sink: Callable[[ExitStack], EventSink],
    saved: Plan | None = None,
    show: Callable[[Plan], None] | None = None,
    confirm: Confirm | None = None,
    stop: asyncio.Event | None = None,
    clock: Callable[[], datetime] = utc_now,
) -> SessionResult:
    """Plan and apply under the state lock.

    ``saved``: apply exactly this reviewed plan (refused when stale). ``show`` sees a fresh plan
    before confirmation; ``confirm`` (None: approved) may decline it. ``apply_sink`` opens the
    sink for the apply phase (a live display starts only once the plan was confirmed).
    """
    stop = stop or asyncio.Event()
    async with locked(backend, options.operation, options.lock_timeout):
        if stop.is_set():
            raise Interrupted("interrupted while waiting for the state lock; nothing was changed")
        planned = await until_stopped(
            make_plan(config, provider, backend.read() or State.new(), plan_sink, options.plan), stop, "planning"
        )
        if planned.plan.errors:
            return SessionResult(planned)
        to_apply = planned.plan
        if saved is not None:
            ensure_fresh(saved, planned.plan)
            ensure_lifecycle(saved, config.resources)  # an edited plan file cannot bypass prevent_destroy
            to_apply = saved  # exactly what was reviewed
        elif show is not None:
            show(to_apply)
        if not to_apply.has_changes and not planned.notes:
            return SessionResult(planned)
        if confirm is not None and to_apply.has_changes and not await confirm(to_apply):
            return SessionResult(planned, declined=True)
        journal = Journal(backend, planned.state, operation=options.operation, clock=clock)
        await journal.open(force=bool(planned.notes))  # pending operations were resolved: record that first
        if to_apply.refresh_only:  # accept the reviewed drift into the state; no live object is touched
            await journal.commit(lambda s: accept_drift(s, to_apply.drift, planned.observed))
            accepted = tuple(sorted({f"{d.address} (accept live)" for d in to_apply.drift}))
            return SessionResult(planned, ApplyResult(accepted, (), (), (), journal.state))
        with ExitStack() as stack:
            applier = Applier(provider, backend, planned.state, apply_sink(stack), options.apply,
                              operation=options.operation, stop=stop, totals=totals_by_kind(planned.observed),
                              journal=journal, spans={str(a): r.span for a, r in config.resources.items()})
            result = await applier.run(to_apply)
        return SessionResult(planned, result)
