"""Lifecycle against the in-process emulator: apply, no-op plan, update, replace, destroy."""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path

import pytest

from lorainfra.cli.context import open_workspace
from lorainfra.engine.applier import ApplyOptions, ApplyResult
from lorainfra.engine.events import ListSink
from lorainfra.engine.planner import Planned, PlanOptions, make_plan
from lorainfra.engine.session import SessionOptions, SessionResult, apply_session
from lorainfra.errors import StateError
from lorainfra.plan.model import Action
from lorainfra.providers.base import Provider
from lorainfra.state.model import State

ENV: dict[str, str] = {}
FAST = ApplyOptions(poll_min=0.01, poll_max=0.05)


def plan(folder: Path, **kw: bool) -> Planned:
    ws = open_workspace(str(folder), None, ENV)

    async def go() -> Planned:
        async with ws.provider() as provider:
            return await make_plan(ws.config, provider, ws.backend.read() or State.new(), ListSink(), PlanOptions(**kw))

    return asyncio.run(go())


def apply(folder: Path, destroy: bool = False) -> ApplyResult:
    ws = open_workspace(str(folder), None, ENV)

    async def go() -> SessionResult:
        async with ws.provider() as provider:
            return await apply_session(
                ws.config, provider, ws.backend, plan_sink=ListSink(), apply_sink=lambda _: ListSink(),
                options=SessionOptions(plan=PlanOptions(destroy=destroy), apply=FAST,
                                       operation="destroy" if destroy else "apply"))

    outcome = asyncio.run(go())
    assert not outcome.planned.plan.errors, outcome.planned.plan.errors
    assert outcome.result is not None, "the plan had nothing to apply"
    return outcome.result


def actions(p: Planned) -> dict[str, Action]:
    return {c.address: c.action for c in p.plan.actionable}


async def until_ready(provider: Provider, name: str, limit: float = 20.0) -> None:
    """Poll the emulated deployment ``name`` until it is READY (a condition, with a deadline)."""
    deadline = time.monotonic() + limit
    while (obj := await provider.get("deployment", name)) is None or obj.state != "READY":
        assert time.monotonic() < deadline, f"{name} did not become READY"
        await asyncio.sleep(0.01)


def live_objects(folder: Path) -> dict[str, str]:
    ws = open_workspace(str(folder), None, ENV)

    async def go() -> dict[str, str]:
        async with ws.provider() as provider:
            obs = await provider.refresh()
            return {name: o.state for name, o in obs.objects.items()
                    if o.state not in ("DELETED",) and o.kind in ("deployment", "lora")}  # not the seeded models

    return asyncio.run(go())


def test_full_lifecycle(quickstart: Path) -> None:
    first = plan(quickstart)
    assert first.plan.errors == ()
    assert set(actions(first).values()) == {Action.CREATE}
    assert len(actions(first)) == 5

    result = apply(quickstart)
    assert result.ok, (result.failed, result.skipped)
    state = result.state
    assert set(state.resources) == {"deployment.shared-base", "deployment.sql-helper", "lora.faq-bot",
                                    "lora.summarizer", "lora.support-bot"}
    assert not state.pending
    live = live_objects(quickstart)
    assert sorted(live.values()) == ["DEPLOYED", "DEPLOYED", "DEPLOYED", "READY", "READY"]

    again = plan(quickstart)
    assert again.plan.has_changes is False and again.plan.drift == ()

    # change replicas: exactly one in-place update
    dep = quickstart / "deployments.yaml"
    dep.write_text(dep.read_text().replace("replicas: {min: 1, max: 2}", "replicas: {min: 2, max: 3}"))
    upd = plan(quickstart)
    assert actions(upd) == {"deployment.shared-base": Action.UPDATE}
    (change,) = upd.plan.actionable
    assert {(a.name, a.before, a.after) for a in change.attributes} == {
        ("min_replica_count", 1, 2), ("max_replica_count", 2, 3)}
    assert apply(quickstart).ok
    assert plan(quickstart).plan.has_changes is False

    # change the base model: the deployment and its LoRAs are replaced (LoRAs retrained on the new base)
    seed = {"models": [
        {"name": f"accounts/quickstart/models/{m}-70b", "kind": "HF_PEFT_ADDON", "state": "READY",
         "peftDetails": {"baseModel": "accounts/fireworks/models/llama-v3p1-70b-instruct", "r": 16,
                         "targetModules": ["q_proj", "v_proj"]}}
        for m in ("support-bot-v3", "faq-bot-v1")]}
    (quickstart / "seeds").mkdir()
    (quickstart / "seeds" / "models.json").write_text(json.dumps(seed))
    cfg = quickstart / "lorainfra.yaml"
    cfg.write_text(cfg.read_text().replace("  emulator:\n", "  emulator:\n    seed: seeds/models.json\n"))
    lor = quickstart / "loras.yaml"
    dep.write_text(dep.read_text().replace(
        "base_model: accounts/fireworks/models/llama-v3p1-8b-instruct",
        "base_model: accounts/fireworks/models/llama-v3p1-70b-instruct"))
    # the server-side checks catch LoRAs trained on the old base before anything is applied
    mismatch = plan(quickstart)
    assert sorted(str(d.span).rsplit(":", 2)[0] for d in mismatch.plan.errors) == [f"{quickstart}/loras.yaml"] * 2
    assert all("trained on accounts/fireworks/models/llama-v3p1-8b-instruct" in d.message
               for d in mismatch.plan.errors)
    lor.write_text(lor.read_text().replace("support-bot-v3\n", "support-bot-v3-70b\n")
                   .replace("faq-bot-v1\n", "faq-bot-v1-70b\n"))
    rep = plan(quickstart)
    assert rep.plan.errors == ()
    assert actions(rep) == {"deployment.shared-base": Action.REPLACE, "lora.faq-bot": Action.REPLACE,
                            "lora.support-bot": Action.REPLACE}
    forcing = next(c for c in rep.plan.actionable if c.address == "deployment.shared-base")
    assert forcing.replace_paths == ("base_model",)
    replaced = apply(quickstart)
    assert replaced.ok, (replaced.failed, replaced.skipped)
    assert plan(quickstart).plan.has_changes is False
    assert len(live_objects(quickstart)) == 5

    # destroy removes everything managed
    gone = apply(quickstart, destroy=True)
    assert gone.ok, gone.failed
    assert gone.state.resources == {}
    assert live_objects(quickstart) == {}
    assert plan(quickstart, destroy=True).plan.has_changes is False


def test_update_of_one_window_keeps_the_live_sub_object(quickstart: Path) -> None:
    # issue 10 item 7: the mask names autoscaling_policy and the body carries the whole sub-object, desired over
    # live, so a window the config never set keeps its live value instead of returning to the default; a window
    # the config set and no longer sets is reset (issue 12 point 4: the plan says "-> (server default)")
    deployments = quickstart / "deployments.yaml"
    original = "autoscaling: {scale_up_window: 30s, scale_down_window: 10m}"
    deployments.write_text(deployments.read_text().replace(original, original.replace("10m", "20m")))
    apply(quickstart)
    ws = open_workspace(str(quickstart), None, ENV)

    async def by_hand() -> None:  # a window the config never sets, changed outside lorainfra
        async with ws.provider() as provider:
            name = provider.remote_name("deployment", "shared-base")
            await provider.update("deployment", name, {"autoscaling_policy.scale_to_zero_window": "7200s"},
                                  ("autoscaling_policy.scale_to_zero_window",))

    asyncio.run(by_hand())
    deployments.write_text(deployments.read_text().replace(original.replace("10m", "20m"),
                                                           "autoscaling: {scale_up_window: 45s}"))
    p = plan(quickstart)
    assert actions(p) == {"deployment.shared-base": Action.UPDATE}
    (change,) = p.plan.actionable
    assert [(a.name, a.reset) for a in change.attributes] == [
        ("autoscaling_policy.scale_up_window", False), ("autoscaling_policy.scale_down_window", True)]
    apply(quickstart)

    async def live() -> dict[str, object]:
        async with ws.provider() as provider:
            obj = await provider.get("deployment", provider.remote_name("deployment", "shared-base"))
            assert obj is not None
            return dict(obj.attributes)

    attrs = asyncio.run(live())
    assert attrs["autoscaling_policy.scale_up_window"] == "45s"
    assert attrs["autoscaling_policy.scale_down_window"] == "600s"  # the server's default again
    assert attrs["autoscaling_policy.scale_to_zero_window"] == "7200s"  # never in the config: kept
    assert actions(plan(quickstart)) == {}


def test_the_state_records_its_account_and_another_account_is_an_error(quickstart: Path) -> None:
    # issue 10 item 11: not "5 vanished, 5 to create" when provider.account changes under a state
    apply(quickstart)
    document = json.loads((quickstart / ".lorainfra" / "state.json").read_text())
    assert (document["account"], document["endpoint"]) == ("quickstart", "emulator.local")
    settings = quickstart / "lorainfra.yaml"
    settings.write_text(settings.read_text().replace("account: quickstart", "account: other-team"))
    with pytest.raises(StateError) as info:
        plan(quickstart)
    assert "'quickstart'" in str(info.value) and "'other-team'" in str(info.value)
