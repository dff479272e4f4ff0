"""Walk: run a DAG of async jobs, each as soon as its dependencies succeeded.

The walk starts every job whose dependencies are done; what bounds work done at once is the
applier's one ``Limiter`` (engine/limiter.py), held by a job only while it sends requests.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Hashable, Mapping
from dataclasses import dataclass
from typing import Generic, TypeVar

N = TypeVar("N", bound=Hashable)


@dataclass(frozen=True)
class Outcome(Generic[N]):
    """How one node ended: ok, failed (with the error) or skipped (with the failed dependency)."""

    node: N
    status: str  # "ok" | "failed" | "skipped" | "not-started"
    error: BaseException | None = None
    because: N | None = None


async def walk(
    nodes: Mapping[N, tuple[N, ...]],
    run: Callable[[N], Awaitable[None]],
    *,
    stop: asyncio.Event | None = None,
    order_key: Callable[[N], str] = str,
) -> dict[N, Outcome[N]]:
    """Run ``run(node)`` for every node after all of ``nodes[node]`` (its dependencies) succeeded.

    A failed node skips everything that depends on it, directly or not; unrelated nodes go on.
    When ``stop`` is set, nothing new starts and in-flight jobs finish ("not-started" for the rest).
    """
    outcomes: dict[N, Outcome[N]] = {}
    known = set(nodes)  # once: a set per node made the set-up quadratic (issue 16)
    waiting = {n: set(deps) & known for n, deps in nodes.items()}
    dependents: dict[N, list[N]] = {n: [] for n in nodes}
    for n, deps in waiting.items():
        for d in deps:
            dependents[d].append(n)
    running: dict[asyncio.Task[None], N] = {}
    ready = sorted((n for n, deps in waiting.items() if not deps), key=order_key)

    def skip_descendants(root: N, cause: N) -> None:
        stack = list(dependents[root])
        while stack:
            n = stack.pop()
            if n in outcomes:
                continue
            outcomes[n] = Outcome(n, "skipped", because=cause)
            stack.extend(dependents[n])

    # each task reports its own end: waiting with asyncio.wait(running) would add and remove a callback
    # on every running task per completion, O(running) each time (quadratic for a 10,700-step apply)
    finished: list[asyncio.Task[None]] = []
    wake = asyncio.Event()

    def on_done(task: asyncio.Task[None]) -> None:
        finished.append(task)
        wake.set()

    while ready or running:
        while ready and not (stop and stop.is_set()):
            node = ready.pop(0)
            if node in outcomes:
                continue
            task = asyncio.ensure_future(run(node))
            task.add_done_callback(on_done)
            running[task] = node
        if not running:
            break
        await wake.wait()
        wake.clear()
        done, finished[:] = list(finished), []
        newly: list[N] = []
        for task in done:
            node = running.pop(task)
            error = task.exception() if not task.cancelled() else asyncio.CancelledError()
            if error is not None:
                outcomes[node] = Outcome(node, "failed", error=error)
                skip_descendants(node, node)
                continue
            outcomes[node] = Outcome(node, "ok")
            for n in dependents[node]:
                waiting[n].discard(node)
                if not waiting[n] and n not in outcomes:
                    newly.append(n)
        ready = sorted(set(ready) | set(newly), key=order_key)
        if stop and stop.is_set() and not running:
            break
    for n in nodes:
        outcomes.setdefault(n, Outcome(n, "not-started"))
    return outcomes
