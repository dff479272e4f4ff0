"""lorainfra output: what apps call per resource (issue 15), from the state alone."""

from __future__ import annotations

from lorainfra.engine.outputs import Output, outputs, outputs_json
from lorainfra.state.model import ResourceState, State


def state(*resources: ResourceState) -> State:
    return State(lineage="l", resources={r.address: r for r in resources})


def test_addon_serverless_and_deployment_targets() -> None:
    s = state(
        ResourceState("deployment.base", "deployment", "accounts/a/deployments/base", {"base_model": "x"}),
        ResourceState("lora.bot", "lora", "accounts/a/deployedModels/bot-1",
                      {"model": "accounts/m/models/bot", "deployment": "base", "serverless": False}),
        ResourceState("lora.sum", "lora", "accounts/a/deployedModels/sum-1",
                      {"model": "accounts/m/models/sum", "deployment": "", "serverless": True}),
    )
    assert outputs(s) == (
        Output("deployment.base", "accounts/a/deployments/base", "deployment", "accounts/a/deployments/base"),
        Output("lora.bot", "accounts/m/models/bot#accounts/a/deployments/base", "addon", "accounts/a/deployedModels/bot-1"),
        Output("lora.sum", "accounts/m/models/sum", "serverless", "accounts/a/deployedModels/sum-1"),
    )
    doc = outputs_json(outputs(s), "prod")
    assert doc["environment"] == "prod" and doc["outputs"]["lora.sum"] == {
        "call": "accounts/m/models/sum", "via": "serverless", "remote_name": "accounts/a/deployedModels/sum-1"}


def test_addon_on_a_deployment_not_in_the_state_uses_the_lora_account() -> None:
    s = state(ResourceState("lora.bot", "lora", "accounts/acme/deployedModels/bot-1",
                            {"model": "accounts/m/models/bot", "deployment": "other", "serverless": False}))
    assert outputs(s)[0].call == "accounts/m/models/bot#accounts/acme/deployments/other"


def test_empty_state_has_no_outputs() -> None:
    assert outputs(State.new()) == ()
