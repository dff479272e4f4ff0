"""The DAG walker: order, overlap, failure isolation, stop."""

from __future__ import annotations

import asyncio

from lorainfra.engine.walk import walk


def run(coro):  # type: ignore[no-untyped-def]
    return asyncio.run(coro)


def test_dependencies_run_first_and_failures_skip_only_dependents() -> None:
    nodes = {"a": (), "b": ("a",), "c": ("b",), "x": (), "y": ("x",)}
    seen: list[str] = []

    async def job(n: str) -> None:
        await asyncio.sleep(0)  # one loop turn: the other jobs may run meanwhile
        seen.append(n)
        if n == "b":
            raise RuntimeError("boom")

    out = run(walk(nodes, job))
    assert seen.index("a") < seen.index("b")
    assert out["b"].status == "failed" and str(out["b"].error) == "boom"
    assert out["c"].status == "skipped" and out["c"].because == "b"
    assert out["x"].status == "ok" and out["y"].status == "ok"


def test_independent_waits_overlap() -> None:
    nodes = {"d1": (), "d2": (), "l1": ("d1",), "l2": ("d2",)}
    order: list[str] = []

    async def main() -> dict[str, object]:
        l2_started = asyncio.Event()

        async def job(n: str) -> None:
            order.append(n)
            if n == "l2":
                l2_started.set()
            if n == "d1":  # the slow one: it ends only once l2 (after d2, not after d1) has started
                await l2_started.wait()

        # the limit only guards against a walk that waits for d1 before starting l2 (it would never end)
        return dict(await asyncio.wait_for(walk(nodes, job), timeout=30))

    out = run(main())
    assert all(o.status == "ok" for o in out.values())  # type: ignore[attr-defined]
    # l2 does not wait for the slow d1
    assert order.index("l2") < order.index("l1")


def test_stop_starts_nothing_new_but_lets_in_flight_finish() -> None:
    nodes = {"a": (), "b": ("a",)}
    stop_box: list[asyncio.Event] = []
    finished: list[str] = []

    async def job(n: str) -> None:
        stop_box[0].set()
        await asyncio.sleep(0)  # in flight when stop is set: it still finishes
        finished.append(n)

    async def main():  # type: ignore[no-untyped-def]
        stop_box.append(asyncio.Event())
        return await walk(nodes, job, stop=stop_box[0])

    out = run(main())
    assert finished == ["a"]
    assert out["a"].status == "ok" and out["b"].status == "not-started"


def test_each_completion_costs_constant_work_not_a_pass_over_every_running_job() -> None:
    # issue 16: asyncio.wait(running) per completion added and removed a callback on every running task:
    # 10,700 steps made tens of millions of such calls. Counted, not timed: jobs end one at a time.
    callbacks = 0

    class CountingTask(asyncio.Task):  # type: ignore[type-arg]
        def add_done_callback(self, *args, **kwargs):  # type: ignore[no-untyped-def]
            nonlocal callbacks
            callbacks += 1
            return super().add_done_callback(*args, **kwargs)

    n = 300
    nodes: dict[str, tuple[str, ...]] = {f"n{i:03d}": () for i in range(n)}

    async def main() -> dict[str, object]:
        loop = asyncio.get_running_loop()
        loop.set_task_factory(lambda lp, coro, **kw: CountingTask(coro, loop=lp, **kw))
        release = {node: asyncio.Event() for node in nodes}

        async def job(node: str) -> None:
            await release[node].wait()

        walking = asyncio.ensure_future(walk(nodes, job))
        for node in nodes:  # end the jobs one at a time, letting the walk see each end (loop turns, no clock)
            release[node].set()
            for _ in range(5):
                await asyncio.sleep(0)
        return dict(await walking)

    out = run(main())
    assert all(o.status == "ok" for o in out.values())  # type: ignore[attr-defined]
    assert callbacks < 5 * n  # one pass over every running job per completion made ~n*n/2


def test_the_node_set_is_built_once_not_per_node() -> None:
    """``set(nodes)`` per node made the walk's set-up quadratic: 4.6 s for a 10,700-resource destroy (issue 16)."""
    from collections.abc import Iterator, Mapping

    class Counting(Mapping[str, tuple[str, ...]]):
        def __init__(self, items: dict[str, tuple[str, ...]]) -> None:
            self.items_, self.iterations = items, 0

        def __getitem__(self, key: str) -> tuple[str, ...]:
            return self.items_[key]

        def __len__(self) -> int:
            return len(self.items_)

        def __iter__(self) -> Iterator[str]:
            self.iterations += 1
            return iter(self.items_)

    nodes = Counting({f"n{i}": (f"n{i - 1}",) if i else () for i in range(200)})

    async def run(node: str) -> None:
        return None

    outcomes = asyncio.run(walk(nodes, run))
    assert len(outcomes) == 200
    assert nodes.iterations <= 5, nodes.iterations  # a few passes, not one per node
