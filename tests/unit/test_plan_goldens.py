"""Golden text plans: one per action (and drift, adoption, unmanaged), rendered exactly as the CLI prints.

A golden that differs fails the test. After a deliberate change to the plan text, rewrite them with
``LORAINFRA_UPDATE_GOLDEN=1 pytest tests/unit/test_plan_goldens.py`` and review the diff.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from lorainfra.addresses import Address
from lorainfra.cli.render import render_plan
from lorainfra.config.model import Resource
from lorainfra.errors import Span
from lorainfra.frozen import frozen_mapping
from lorainfra.kinds.registry import kind_of
from lorainfra.live import Observed, RemoteObject
from lorainfra.plan.diff import diff, drift, remote_name_for, unmanaged
from lorainfra.plan.model import Plan
from lorainfra.state.model import ResourceState, State

GOLDEN = Path(__file__).parent / "golden"
ACCT = "acme"
BASE = "accounts/fireworks/models/llama-v3p1-8b-instruct"
DLIVE = f"accounts/{ACCT}/deployments/base"
LLIVE = f"accounts/{ACCT}/deployedModels/bot-x1"


def deployment(**attrs: Any) -> Resource:
    values = {"base_model": BASE, "deployment_shape": "default", "enable_addons": True, "min_replica_count": 1,
              "display_name": "", "description": ""}
    values.update(attrs)
    return Resource(Address("deployment", "base"), frozen_mapping(values), Span("deployments.yaml", 2, 3))


def lora(**attrs: Any) -> Resource:
    values = {"model": f"accounts/{ACCT}/models/bot", "deployment": "base", "serverless": False,
              "display_name": "", "description": ""}
    values.update(attrs)
    return Resource(Address("lora", "bot"), frozen_mapping(values), Span("loras.yaml", 2, 3),
                    depends_on=(Address("deployment", "base"),))


def live(res: Resource, name: str, state: str, **overrides: Any) -> RemoteObject:
    return kind_of(res.kind).observe(name, state, {**res.attributes, **overrides})


def managed(res: Resource, name: str) -> ResourceState:
    return ResourceState(str(res.address), res.kind, name, res.attributes, tuple(str(d) for d in res.depends_on))


def plan_of(desired: list[Resource], recorded: list[ResourceState], objects: list[RemoteObject],
            *, destroy: bool = False) -> Plan:
    state = State.new("lin")
    for entry in recorded:
        state = state.with_resource(entry)
    observed = Observed(frozen_mapping({o.name: o for o in objects}))
    wanted = {r.address: r for r in desired}
    names = [remote_name_for(r, state, observed, ACCT) for r in desired]  # as the planner does
    return Plan(diff(wanted, state, observed, ACCT, destroy=destroy), drift(state, observed),
                unmanaged(state, observed, names), destroy=destroy)


D, L = deployment(), lora()
SCENARIOS: dict[str, Plan] = {
    "create": plan_of([D, L], [], []),
    "noop": plan_of([D, L], [managed(D, DLIVE), managed(L, LLIVE)], [live(D, DLIVE, "READY"), live(L, LLIVE, "DEPLOYED")]),
    "update": plan_of([deployment(min_replica_count=2, description="more"), L], [managed(D, DLIVE), managed(L, LLIVE)],
                      [live(D, DLIVE, "READY"), live(L, LLIVE, "DEPLOYED")]),
    "replace": plan_of([deployment(base_model="accounts/fireworks/models/other"), L],
                       [managed(D, DLIVE), managed(L, LLIVE)], [live(D, DLIVE, "READY"), live(L, LLIVE, "DEPLOYED")]),
    "replace-failed": plan_of([D], [managed(D, DLIVE)], [live(D, DLIVE, "FAILED")]),
    "replace-lora-create-first": plan_of([D, lora(model=f"accounts/{ACCT}/models/bot-v2")],
                                         [managed(D, DLIVE), managed(L, LLIVE)],
                                         [live(D, DLIVE, "READY"), live(L, LLIVE, "DEPLOYED")]),
    "destroy": plan_of([D, L], [managed(D, DLIVE), managed(L, LLIVE)],
                       [live(D, DLIVE, "READY"), live(L, LLIVE, "DEPLOYED")], destroy=True),
    "delete-removed-from-config": plan_of([D], [managed(D, DLIVE), managed(L, LLIVE)],
                                          [live(D, DLIVE, "READY"), live(L, LLIVE, "DEPLOYED")]),
    "drift": plan_of([D, L], [managed(D, DLIVE), managed(L, LLIVE)], [live(D, DLIVE, "READY", min_replica_count=5)]),
    "adoption": plan_of([D, L], [], [live(D, DLIVE, "READY"), live(L, LLIVE, "DEPLOYED")]),
    "unmanaged": plan_of([D], [managed(D, DLIVE)],
                         [live(D, DLIVE, "READY"), live(deployment(), f"accounts/{ACCT}/deployments/by-hand", "READY")]),
}


@pytest.mark.parametrize("name", sorted(SCENARIOS))
def test_text_plan_golden(name: str) -> None:
    text = render_plan(SCENARIOS[name])
    path = GOLDEN / f"plan-{name}.txt"
    if os.environ.get("LORAINFRA_UPDATE_GOLDEN") == "1":
        path.write_text(text)
    assert path.exists(), f"no golden {path}: run with LORAINFRA_UPDATE_GOLDEN=1 and review it"
    assert text == path.read_text()


def test_every_action_has_a_golden() -> None:
    from lorainfra.plan.model import Action

    seen = {c.action for plan in SCENARIOS.values() for c in plan.changes}
    assert seen == set(Action)
