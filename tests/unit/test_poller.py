"""The poller: reads asked for together share requests, and a read asked for mid-flush is still served."""

from __future__ import annotations

import asyncio

from lorainfra.config.model import frozen_mapping
from lorainfra.engine.poller import Poller
from lorainfra.live import RemoteObject


class SlowProvider:
    def __init__(self) -> None:
        self.gets: list[str] = []
        self.lists = 0

    async def get(self, kind: str, name: str) -> RemoteObject | None:
        self.gets.append(name)
        await asyncio.sleep(0.05)
        return RemoteObject(kind, name, "READY", frozen_mapping({}))

    async def list_some(self, kind: str, names: frozenset[str]) -> tuple[int, list[RemoteObject]]:
        self.lists += 1
        await asyncio.sleep(0.05)
        return 10, [RemoteObject(kind, f"n{i}", "READY", frozen_mapping({})) for i in range(10) if f"n{i}" in names]


def test_many_waiters_share_one_list() -> None:
    provider = SlowProvider()

    async def main() -> list[RemoteObject | None]:
        poller = Poller(provider, {"lora": 10})  # type: ignore[arg-type]
        return await asyncio.gather(*(poller.get("lora", f"n{i}") for i in range(5)), poller.get("lora", "gone"))

    results = asyncio.run(main())
    assert provider.lists == 1 and provider.gets == []
    assert [r.name if r else None for r in results] == ["n0", "n1", "n2", "n3", "n4", None]


def test_few_waiters_use_gets() -> None:
    provider = SlowProvider()

    async def main() -> RemoteObject | None:
        return await Poller(provider, {"lora": 1000}).get("lora", "x")  # type: ignore[arg-type]

    assert asyncio.run(main()) is not None
    assert provider.gets == ["x"] and provider.lists == 0


def test_a_read_asked_while_a_flush_is_in_flight_is_served() -> None:
    provider = SlowProvider()

    async def main() -> tuple[RemoteObject | None, RemoteObject | None]:
        poller = Poller(provider, {"lora": 1000})  # type: ignore[arg-type]
        first = asyncio.ensure_future(poller.get("lora", "a"))
        await asyncio.sleep(0.03)  # the first batch is now waiting on its GET
        second = await asyncio.wait_for(poller.get("lora", "b"), timeout=2)
        return await first, second

    first, second = asyncio.run(main())
    assert first is not None and second is not None
    assert provider.gets == ["a", "b"]


class NamedListProvider:
    """Lists 1,000 objects; records which names each LIST was asked to parse."""

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

    results = asyncio.run(main())
    assert provider.asked == [frozenset({*(f"n{i}" for i in range(7)), "gone"})]
    assert poller.totals == {"lora": 1000}  # the kind's count, not the parsed ones: it prices the next poll
    assert [r.name if r else None for r in results] == [*(f"n{i}" for i in range(7)), None]
