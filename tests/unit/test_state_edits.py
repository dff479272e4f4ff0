"""State edits cost O(1) comparisons, not a re-sort of every resource (issue 16: quadratic apply).

An apply makes about three edits per resource; each used to copy and sort the whole mapping, so an
apply of 10,700 resources spent minutes sorting. Keys are counted, not timed.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from lorainfra.errors import StateError
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


def test_the_encoder_writes_exactly_dumps_text_and_reencodes_only_changed_entries() -> None:
    from unittest import mock

    from lorainfra.config.model import frozen_mapping
    from lorainfra.state.model import Encoder

    encoder = Encoder()
    state = State.new("lin")
    assert encoder.dumps(state) == state.dumps()  # empty sections
    for i in range(50):
        attrs = frozen_mapping({"display_name": f"bot \u00e9\n\"{i}\"", "replicas": {"min": i, "max": [1, 2]}, "x": None})
        state = state.with_resource(ResourceState(f"lora.l{i:03d}", "lora", f"accounts/a/deployedModels/{i}", attrs,
                                                  ("deployment.d",), "digest"))
    state = state.with_pending(PendingOp("lora.p", "create", "lora", frozen_mapping({"model": "m"})))
    assert encoder.dumps(state) == state.dumps()
    changed = state.with_resource(ResourceState("lora.l007", "lora", "accounts/a/deployedModels/new"))
    changed = changed.without_resource("lora.l003").without_pending("lora.p")
    with mock.patch.object(ResourceState, "to_json", autospec=True, side_effect=ResourceState.to_json) as encoded:
        text = encoder.dumps(changed)
    assert text == changed.dumps()
    assert [call.args[0].address for call in encoded.call_args_list] == ["lora.l007"]  # one of 49 re-encoded
    bound = changed.bound_to("acme", "api.fireworks.ai")  # the account and endpoint the state records
    assert encoder.dumps(bound) == bound.dumps()


def test_a_local_write_reencodes_and_rereads_only_what_changed(tmp_path: Path) -> None:
    from unittest import mock

    from lorainfra.state.local import LocalBackend

    backend = LocalBackend(tmp_path / "state.json", who="test")
    state = State.new("lin")
    for i in range(20):
        state = state.with_resource(resource(i))
    state = backend.write(state)
    edited = state.with_resource(ResourceState("lora.l00005", "lora", "accounts/a/deployedModels/other"))
    with mock.patch.object(ResourceState, "to_json", autospec=True, side_effect=ResourceState.to_json) as encoded, \
            mock.patch.object(State, "loads", side_effect=State.loads) as parsed:
        written = backend.write(edited)
    assert [call.args[0].address for call in encoded.call_args_list] == ["lora.l00005"]
    assert parsed.call_count == 0  # the file still holds our own last write: compared as text, not parsed
    assert backend.read() == written and (tmp_path / "state.json").read_text() == written.dumps()
    (tmp_path / "state.json").write_text(written.with_resource(resource(99)).next_serial().dumps())  # another writer
    with pytest.raises(StateError):
        backend.write(written.with_resource(resource(98)))  # compare-and-swap still sees it
