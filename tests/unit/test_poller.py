"""The poller: reads asked for together share requests, and a read asked for mid-flush is still served."""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from typing import Any, TypeVar

from lorainfra.config.model import frozen_mapping
from lorainfra.engine.poller import Poller
from lorainfra.live import RemoteObject

T = TypeVar("T")


def run(main: Coroutine[Any, Any, T]) -> T:
    """Run a test's main; a read never answered (the behaviour broken) fails it instead of hanging the run. The
    limit is a guard, never a wait a passing test relies on."""
    return asyncio.run(asyncio.wait_for(main, timeout=30))


class GatedProvider:
    """Records every read; a read of a name in ``gates`` waits until the test opens that gate (no clock)."""

    def congested(self) -> bool:
        return False

    def __init__(self, *gated: str) -> None:
        self.gets: list[str] = []
        self.lists = 0
        self.gates = {name: asyncio.Event() for name in gated}
        self.reading = {name: asyncio.Event() for name in gated}  # set once the read of that name is in flight

    async def _through_gate(self, names: object) -> None:
        for name in self.gates:
            if name in names:  # type: ignore[operator]
                self.reading[name].set()
                await self.gates[name].wait()

    async def get(self, kind: str, name: str) -> RemoteObject | None:
        self.gets.append(name)
        await self._through_gate({name})
        return RemoteObject(kind, name, "READY", frozen_mapping({}))

    async def list_some(self, kind: str, names: frozenset[str]) -> tuple[int, list[RemoteObject]]:
        self.lists += 1
        await self._through_gate(names)
        return 10, [RemoteObject(kind, f"n{i}", "READY", frozen_mapping({})) for i in range(10) if f"n{i}" in names]


def test_many_waiters_share_one_list() -> None:
    provider = GatedProvider()

    async def main() -> list[RemoteObject | None]:
        poller = Poller(provider, {"lora": 10})  # type: ignore[arg-type]
        return await asyncio.gather(*(poller.get("lora", f"n{i}") for i in range(5)), poller.get("lora", "gone"))

    results = run(main())
    assert provider.lists == 1 and provider.gets == []
    assert [r.name if r else None for r in results] == ["n0", "n1", "n2", "n3", "n4", None]


def test_reads_asked_while_a_list_is_in_flight_share_the_next_request() -> None:
    # the batch being read is closed: later reads form the next batch (one request for them all), never
    # join a read already sent (which could not answer them)
    provider = GatedProvider("n0")

    async def main() -> tuple[list[RemoteObject | None], list[RemoteObject | None]]:
        poller = Poller(provider, {"lora": 10})  # type: ignore[arg-type]
        first = asyncio.gather(*(poller.get("lora", f"n{i}") for i in range(3)))
        await provider.reading["n0"].wait()  # the first LIST is in flight, held at its gate
        second = asyncio.gather(*(poller.get("lora", f"n{i}") for i in range(3, 6)))
        provider.gates["n0"].set()
        return await first, await second

    first, second = run(main())
    assert provider.lists == 2 and provider.gets == []
    assert [r.name if r else None for r in first + second] == ["n0", "n1", "n2", "n3", "n4", "n5"]


def test_few_waiters_use_gets() -> None:
    provider = GatedProvider()

    async def main() -> RemoteObject | None:
        return await Poller(provider, {"lora": 1000}).get("lora", "x")  # type: ignore[arg-type]

    assert run(main()) is not None
    assert provider.gets == ["x"] and provider.lists == 0


def test_a_read_asked_while_a_flush_is_in_flight_is_served() -> None:
    # the second read gets a flush of its own: it is answered while the first one's GET is still held open
    # (if it waited behind the first flush, or joined its closed batch, it would never be answered here)
    provider = GatedProvider("a")

    async def main() -> tuple[RemoteObject | None, RemoteObject | None]:
        poller = Poller(provider, {"lora": 1000})  # type: ignore[arg-type]
        first = asyncio.ensure_future(poller.get("lora", "a"))
        await provider.reading["a"].wait()  # the first batch is now waiting on its GET (a condition, not a clock)
        second = await poller.get("lora", "b")
        assert not first.done()
        provider.gates["a"].set()
        return await first, second

    first, second = run(main())
    assert first is not None and second is not None
    assert provider.gets == ["a", "b"]


class NamedListProvider:
    """Lists 1,000 objects; records which names each LIST was asked to parse."""

    def congested(self) -> bool:
        return False

    def __init__(self) -> None:
        self.asked: list[frozenset[str] | None] = []

    async def get(self, kind: str, name: str) -> RemoteObject | None:
        raise AssertionError("a batch larger than the page count reads with a LIST")

    async def list_some(self, kind: str, names: frozenset[str]) -> tuple[int, list[RemoteObject]]:
        self.asked.append(names)
        everything = (RemoteObject(kind, f"n{i}", "READY", frozen_mapping({})) for i in range(1000))
        return 1000, [o for o in everything if o.name in names]


def test_a_list_poll_asks_only_for_the_waited_names() -> None:
    # issue 16: a LIST poll parsed every object of the kind (10,000 LoRAs per tick) to serve a few dozen waiters
    provider = NamedListProvider()
    poller = Poller(provider, {"lora": 1000})  # type: ignore[arg-type]

    async def main() -> list[RemoteObject | None]:
        return await asyncio.gather(*(poller.get("lora", f"n{i}") for i in range(7)), poller.get("lora", "gone"))

    results = run(main())
    assert provider.asked == [frozenset({*(f"n{i}" for i in range(7)), "gone"})]
    assert poller.totals == {"lora": 1000}  # the kind's count, not the parsed ones: it prices the next poll
    assert [r.name if r else None for r in results] == [*(f"n{i}" for i in range(7)), None]


class CongestedProvider:
    """Requests queue behind the rate limit until ``free`` is set; says when the poller asked."""

    def __init__(self) -> None:
        self.free = asyncio.Event()
        self.asked = asyncio.Event()
        self.reads: list[list[str]] = []

    def congested(self) -> bool:
        self.asked.set()
        return not self.free.is_set()

    async def get(self, kind: str, name: str) -> RemoteObject | None:
        self.reads.append([name])
        return RemoteObject(kind, name, "READY", frozen_mapping({}))

    async def list_some(self, kind: str, names: frozenset[str]) -> tuple[int, list[RemoteObject]]:
        self.reads.append(sorted(names))
        return 1, [RemoteObject(kind, n, "READY", frozen_mapping({})) for n in names]


def test_waiters_arriving_while_requests_queue_behind_the_rate_limit_share_one_read() -> None:
    # issue 16: under the account's request budget each waiter polled on its own (a read is sent every
    # gather interval), spending the budget the creates needed; a read sent then would only wait its turn
    provider = CongestedProvider()

    async def main() -> list[RemoteObject | None]:
        poller = Poller(provider, {"lora": 1}, patience=3600)  # type: ignore[arg-type]
        first = asyncio.ensure_future(poller.get("lora", "n0"))
        await provider.asked.wait()  # the batch is open, held by the queue (a condition, not a clock)
        later = [asyncio.ensure_future(poller.get("lora", f"n{i}")) for i in range(1, 6)]
        await asyncio.sleep(0)
        provider.free.set()
        return [await first, *[await f for f in later]]

    results = run(main())
    assert provider.reads == [[f"n{i}" for i in range(6)]]
    assert [r.name if r else None for r in results] == [f"n{i}" for i in range(6)]


def test_a_batch_is_read_after_its_patience_even_if_the_queue_never_drains() -> None:
    provider = CongestedProvider()  # never free

    async def main() -> RemoteObject | None:
        return await Poller(provider, {"lora": 1}, gather=0.001, patience=0.005).get("lora", "n0")  # type: ignore[arg-type]

    assert run(main()) is not None and provider.reads == [["n0"]]
