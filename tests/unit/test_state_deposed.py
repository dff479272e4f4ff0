"""Deposed copies in the state document (issue 12 point 6): written as format_version 2 only while there are
some, read back exactly, and encoded the same by the incremental Encoder as by State.dumps."""

from __future__ import annotations

import json

from lorainfra.state.model import Encoder, PendingOp, ResourceState, State

OLD = ResourceState("lora.faq", "lora", "accounts/a/deployedModels/old", {"model": "m1"}, ("deployment.d",), "x")
NEW = ResourceState("lora.faq", "lora", "accounts/a/deployedModels/new", {"model": "m2"}, ("deployment.d",), "y")


def test_a_state_with_a_deposed_copy_round_trips_as_version_2_and_goes_back_to_1_without() -> None:
    state = State.new("lin").with_resource(NEW).with_deposed(OLD).with_pending(
        PendingOp("deployment.d", "update", "deployment", {"remote_name": "accounts/a/deployments/d"}, {"x": 1}))
    text = state.dumps()
    assert json.loads(text)["format_version"] == 2
    assert json.loads(text)["deposed"]["accounts/a/deployedModels/old"]["address"] == "lora.faq"
    again = State.loads(text)
    assert again.deposed == {OLD.remote_name: OLD} and again.pending == state.pending and again == state
    encoder = Encoder()
    assert encoder.dumps(state) == text
    cleaned = state.without_deposed(OLD.remote_name)
    assert encoder.dumps(cleaned) == cleaned.dumps()
    assert json.loads(cleaned.dumps())["format_version"] == 1 and "deposed" not in json.loads(cleaned.dumps())
