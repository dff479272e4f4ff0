"""Outputs: what applications call for each managed resource, from the state (no API call).

A LoRA on a deployment: ``model#accounts/A/deployments/D`` (routes to that deployment's addon); a
serverless LoRA: its model; a deployment (a base or a live-merge one): ``accounts/A/deployments/D``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from lorainfra.kinds.registry import kind_of, parse_address
from lorainfra.state.model import State


@dataclass(frozen=True)
class Output:
    """One resource's target: the model string an app passes, and how it is served."""

    address: str
    call: str
    via: str  # "deployment", "addon" or "serverless"
    remote_name: str


def outputs(state: State) -> tuple[Output, ...]:
    """Every managed resource's target, sorted by address."""
    names = {parse_address(address): resource.remote_name for address, resource in state.resources.items()}
    out = []
    for address in sorted(state.resources):
        resource = state.resources[address]
        call, via = kind_of(resource.kind).app_target(resource.remote_name, resource.attributes, names)
        out.append(Output(address, call, via, resource.remote_name))
    return tuple(out)


def outputs_json(items: tuple[Output, ...], environment: str | None) -> dict[str, Any]:
    """The document ``lorainfra output --json`` prints and ``--out FILE`` writes (stable keys, sorted)."""
    return {
        "format_version": 1,
        "environment": environment,
        "outputs": {o.address: {"call": o.call, "via": o.via, "remote_name": o.remote_name} for o in items},
    }
