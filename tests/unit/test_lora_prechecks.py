"""Plan-time checks of serverless LoRAs (issue 10 item 2): the base-model rule is a warning, the per-base limit
comes from provider.limits."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import Any

from lorainfra.addresses import Address
from lorainfra.config.model import Limits, Resource, frozen_mapping
from lorainfra.errors import Span
from lorainfra.kinds.registry import kind_of
from lorainfra.live import ModelInfo, RemoteObject

GLM = "accounts/fireworks/models/glm-5p3-flash"
LLAMA = "accounts/fireworks/models/llama-v3p1-8b-instruct"


class Remote:
    def __init__(self, bases: Mapping[str, str], limits: Limits) -> None:
        self.bases = bases
        self.limits = limits

    async def get_model(self, name: str) -> ModelInfo | None:
        if name in self.bases:
            return ModelInfo(name=name, kind="HF_PEFT_ADDON", state="READY", base_model=self.bases[name])
        return ModelInfo(name=name, kind="HF_BASE_MODEL", state="READY", supports_serverless=True)

    async def create(self, kind: str, resource_id: str, attributes: Mapping[str, Any], *,
                     validate_only: bool = False) -> RemoteObject:
        raise AssertionError("no create in these checks")


def serverless(name: str) -> Resource:
    return Resource(Address("lora", name), frozen_mapping({"model": f"accounts/acme/models/{name}", "deployment": "",
                                                           "serverless": True}), Span("l.yaml", 2, 3))


def check(resource: Resource, resources: dict[Address, Resource], remote: Remote) -> list[tuple[str, str]]:
    found = asyncio.run(kind_of("lora").precheck(resource, resources, remote))  # type: ignore[arg-type]
    return [(d.severity, d.message) for d in found]


def test_an_undocumented_serverless_base_is_a_warning_even_with_supports_serverless() -> None:
    bot = serverless("bot")
    found = check(bot, {bot.address: bot}, Remote({bot.attributes["model"]: LLAMA}, Limits()))
    assert found == [("warning", f"base model {LLAMA!r} is not documented to take serverless LoRAs "
                                 f"(documented: {GLM!r})")]
    assert check(bot, {bot.address: bot}, Remote({bot.attributes["model"]: GLM}, Limits())) == []


def test_the_serverless_per_base_limit_comes_from_provider_limits() -> None:
    loras = [serverless(f"b{i}") for i in range(4)]
    resources = {r.address: r for r in loras}
    remote = Remote({r.attributes["model"]: GLM for r in loras}, Limits())
    assert [check(r, resources, remote) for r in loras[:3]] == [[], [], []]
    assert check(loras[3], resources, remote) == [
        ("error", f"4 serverless LoRAs on base model {GLM!r}; lora.b3 is number 4")]
    raised = Remote(remote.bases, Limits(serverless_per_base_model=4))
    assert check(loras[3], resources, raised) == []


def test_a_scale_to_zero_deployment_gets_a_plan_warning() -> None:
    # issue 10 item 5: min replicas 0 -> auto-deleted after 7 days without traffic
    class Creates(Remote):
        async def create(self, kind: str, resource_id: str, attributes: Mapping[str, Any], *,
                         validate_only: bool = False) -> RemoteObject:
            assert validate_only
            return kind_of(kind).observe(resource_id)

    remote = Creates({}, Limits())
    idle = Resource(Address("deployment", "idle"), frozen_mapping({"base_model": LLAMA, "min_replica_count": 0}),
                    Span("d.yaml", 2, 3))
    found = asyncio.run(kind_of("deployment").precheck(idle, {idle.address: idle}, remote))  # type: ignore[arg-type]
    assert [(d.severity, d.span) for d in found] == [("warning", Span("d.yaml", 2, 3))]
    assert "7 days" in found[0].message and "replicas.min: 1" in found[0].hint
    busy = Resource(idle.address, frozen_mapping({"base_model": LLAMA, "min_replica_count": 1}), idle.span)
    assert asyncio.run(kind_of("deployment").precheck(busy, {busy.address: busy}, remote)) == []  # type: ignore[arg-type]


class ExternalRemote(Remote):
    """A remote where account acme holds one deployment, ``ext``, in ``state``."""

    account = "acme"

    def __init__(self, state: str, addons: bool = True) -> None:
        super().__init__({"accounts/acme/models/bot": LLAMA}, Limits())
        self.deployment = kind_of("deployment").observe(
            "accounts/acme/deployments/ext", state, {"base_model": LLAMA, "enable_addons": addons})

    async def get(self, kind: str, name: str) -> RemoteObject | None:
        return self.deployment if name == self.deployment.name else None


def on_external(dep_id: str) -> Resource:
    return Resource(Address("lora", "bot"), frozen_mapping({"model": "accounts/acme/models/bot", "deployment": dep_id,
                                                           "serverless": False}), Span("l.yaml", 2, 3))


def test_an_external_deployment_not_ready_yet_is_a_warning_and_a_failed_one_an_error() -> None:
    bot = on_external("ext")
    assert check(bot, {bot.address: bot}, ExternalRemote("READY")) == []
    assert check(bot, {bot.address: bot}, ExternalRemote("CREATING")) == [
        ("warning", "external deployment accounts/acme/deployments/ext is CREATING, not READY")]
    assert check(bot, {bot.address: bot}, ExternalRemote("FAILED")) == [
        ("error", "external deployment accounts/acme/deployments/ext is FAILED: it will not become READY")]
    assert check(bot, {bot.address: bot}, ExternalRemote("DELETING")) == [
        ("error", "external deployment accounts/acme/deployments/ext is being deleted (DELETING)")]


def test_an_external_deployment_is_bound_to_the_plan_account() -> None:
    lora = kind_of("lora")
    full = {"model": "m", "deployment": "accounts/acme/deployments/ext", "serverless": False}
    assert lora.bind(full, {}, "acme")["deployment"] == "ext"
    assert lora.bind(full, {}, "other")["deployment"] == "accounts/acme/deployments/ext"
    assert lora.bind({"model": "m", "deployment": "base"}, {}, "acme")["deployment"] == "base"


def test_the_serverless_check_orders_only_serverless_loras_not_every_resource(monkeypatch: Any) -> None:
    # issue 16: each serverless LoRA's check sorted every resource of the plan (100 x 10,700 at fleet scale);
    # it must order only the serverless LoRAs, so the work does not grow with the rest of the fleet
    loras = [serverless(f"s{i}") for i in range(3)]
    remote = Remote({r.attributes["model"]: GLM for r in loras}, Limits())
    comparisons = {"n": 0}
    original = Address.__lt__

    def counted(self: Address, other: Address) -> bool:
        comparisons["n"] += 1
        return original(self, other)

    monkeypatch.setattr(Address, "__lt__", counted)

    def compared_with(others: int) -> int:
        resources = {r.address: r for r in loras}
        for i in range(others):
            dep = Resource(Address("deployment", f"d{i:05}"), frozen_mapping({"base_model": GLM}), Span("d.yaml", 1, 1))
            resources[dep.address] = dep
        comparisons["n"] = 0
        assert check(loras[0], resources, remote) == []
        return comparisons["n"]

    assert compared_with(2_000) == compared_with(0)
