"""The one limiter: at most N holders; a slot lent back during a wait lets another operation in."""

from __future__ import annotations

import asyncio

from lorainfra.engine.limiter import Limiter


async def settle() -> None:
    """Let every runnable task run until it blocks (loop turns, not time)."""
    for _ in range(20):
        await asyncio.sleep(0)


def test_holders_are_bounded_and_a_lent_slot_lets_another_in() -> None:
    async def go() -> list[tuple[str, list[int]]]:
        limiter = Limiter(2)
        inside: set[int] = set()
        lend = {i: asyncio.Event() for i in range(4)}
        done = {i: asyncio.Event() for i in range(4)}
        seen: list[tuple[str, list[int]]] = []

        async def operation(i: int) -> None:
            async with limiter.slot() as slot:
                inside.add(i)
                await lend[i].wait()
                inside.discard(i)
                async with slot.lent():  # waiting for readiness: someone else may send requests
                    await done[i].wait()
                inside.add(i)
            inside.discard(i)

        tasks = [asyncio.ensure_future(operation(i)) for i in range(4)]
        await settle()
        seen.append(("two hold", sorted(inside)))
        lend[0].set()
        await settle()
        seen.append(("0 lent its slot to 2", sorted(inside)))
        done[0].set()
        await settle()
        seen.append(("0 waits to take a slot back", sorted(inside)))
        for i in (1, 2, 3):
            lend[i].set()
            done[i].set()
        await asyncio.gather(*tasks)
        seen.append(("all done", sorted(inside)))
        return seen

    assert asyncio.run(go()) == [
        ("two hold", [0, 1]),
        ("0 lent its slot to 2", [1, 2]),
        ("0 waits to take a slot back", [1, 2]),
        ("all done", []),
    ]
