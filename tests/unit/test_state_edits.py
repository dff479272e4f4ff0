"""State edits cost O(1) comparisons, not a re-sort of every resource (issue 16: quadratic apply).

An apply makes about three edits per resource; each used to copy and sort the whole mapping, so an
apply of 10,700 resources spent minutes sorting. Keys are counted, not timed.
"""

from __future__ import annotations

from lorainfra.state.model import PendingOp, ResourceState, State


class CountingKey(str):
    """An address that counts how often it is ordered against another."""

    comparisons = 0

    def __lt__(self, other: object) -> bool:
        CountingKey.comparisons += 1
        return str.__lt__(self, other)  # type: ignore[operator]

    def __gt__(self, other: object) -> bool:
        CountingKey.comparisons += 1
        return str.__gt__(self, other)  # type: ignore[operator]


def resource(i: int) -> ResourceState:
    address = CountingKey(f"lora.l{i:05d}")
    return ResourceState(address, "lora", f"accounts/a/deployedModels/{i}")


def test_adding_and_removing_a_resource_does_not_order_the_others() -> None:
    state = State.new("lin")
    for i in range(0, 2000, 2):
        state = state.with_resource(resource(i))
    list(state.resources)  # iterate once (sorted order computed)
    CountingKey.comparisons = 0
    for i in range(1, 201, 2):
        state = state.with_resource(resource(i)).without_resource(f"lora.l{i - 1:05d}")
        state = state.with_pending(PendingOp(f"lora.l{i:05d}", "create", "lora")).without_pending(f"lora.l{i:05d}")
    assert CountingKey.comparisons < 100  # a re-sort per edit made ~400,000


def test_resources_still_iterate_in_address_order_and_compare_by_content() -> None:
    state = State.new("lin")
    for i in (5, 1, 9, 3):
        state = state.with_resource(resource(i))
    state = state.without_resource("lora.l00009")
    assert list(state.resources) == ["lora.l00001", "lora.l00003", "lora.l00005"]
    assert [r.address for r in state.resources.values()] == list(state.resources)
    again = State.loads(state.dumps())
    assert again == state and again.resources == state.resources and dict(again.resources) == dict(state.resources)
    assert state.with_resource(resource(1)) == state  # same content: equal
    assert state.with_resource(resource(7)) != state
