"""Planner checks stay linear in the plan's size (issue 16)."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace
from typing import Any

from lorainfra.addresses import Address
from lorainfra.config.model import Limits, Resource
from lorainfra.engine.planner import _check_creates, one_fate
from lorainfra.errors import Span
from lorainfra.frozen import frozen_mapping
from lorainfra.live import ModelInfo
from lorainfra.plan.model import Action, Change


class Counted(str):
    """An address that counts how often it is compared for equality."""

    compared = 0

    def __eq__(self, other: object) -> bool:
        Counted.compared += 1
        return str.__eq__(self, other)

    __hash__ = str.__hash__


def test_one_fate_looks_each_change_up_instead_of_scanning_every_delete() -> None:
    # destroying 10,700 resources scanned every delete for each change: 3.4 s of the destroy's CPU
    n = 400
    changes = [Change(address=Counted(f"lora.l{i}"), kind="lora", action=Action.DELETE, remote_name=f"r{i}")
               for i in range(n)]
    Counted.compared = 0
    assert one_fate(changes, {}) == []
    assert Counted.compared <= 3 * n, Counted.compared  # a few per change, not one per pair


def test_the_create_checks_look_at_each_resource_a_bounded_number_of_times(monkeypatch: Any) -> None:
    # issue 16: each LoRA's plan-time check scanned every resource for a model this config uploads
    # (9,700 x 10,700 at fleet scale); grouped by kind once per plan, a check looks at its kind's resources
    looked = {"n": 0}
    kind = Resource.kind

    def counted(self: Resource) -> str:
        looked["n"] += 1
        return kind.fget(self)  # type: ignore[misc]

    monkeypatch.setattr(Resource, "kind", property(counted))

    def looks_per_lora(n: int) -> float:
        loras = [Resource(Address("lora", f"l{i:04}"), frozen_mapping(
            {"model": f"accounts/acme/models/l{i}", "deployment": "", "serverless": False}), Span("l.yaml", 1, 1))
            for i in range(n)]
        resources = {r.address: r for r in loras}
        config = SimpleNamespace(resources=resources, provider=SimpleNamespace(limits=Limits()))
        provider = SimpleNamespace(account="acme", get_model=lambda name: _addon(name))
        changes = [Change(address=str(r.address), kind="lora", action=Action.CREATE) for r in loras]
        looked["n"] = 0
        assert asyncio.run(_check_creates(config, provider, changes)) == []  # type: ignore[arg-type]
        return looked["n"] / n

    assert looks_per_lora(400) <= looks_per_lora(50) + 1


async def _addon(name: str) -> ModelInfo:
    return ModelInfo(name=name, kind="HF_PEFT_ADDON", state="READY", base_model="accounts/fireworks/models/b")
