"""Interrupted runs heal (issue 12, points 6 and 7): an update or a create-before-destroy replacement stopped
midway (Ctrl-C) is reconciled by the next run without user action; a plan or drift while another apply holds
the lock says so; refresh-only plans accept live values into the state. Against the in-process emulator; the
interrupt is a stop flag set by an event sink at a chosen event (no sleeps)."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import Callable
from pathlib import Path

import pytest

from lorainfra.cli.context import open_workspace
from lorainfra.cli.render import render_plan
from lorainfra.engine.applier import ApplyResult
from lorainfra.engine.events import Event, ListSink, OperationProgress, OperationStarted
from lorainfra.engine.review import detect_drift
from lorainfra.engine.session import SessionOptions, apply_session
from lorainfra.plan.model import Action
from lorainfra.state.model import PendingOp, State
from tests.e2e.helpers import Result, cli
from tests.e2e.helpers import cli as run_cli
from tests.lifecycle.test_lifecycle import ENV, FAST, apply, live_objects, plan, until_ready


class StopAt:
    """A sink that sets the run's stop flag (what Ctrl-C does) when ``when`` matches an event."""

    def __init__(self, stop: asyncio.Event, when: Callable[[Event], bool]) -> None:
        self.stop = stop
        self.when = when
        self.events: list[Event] = []

    def emit(self, event: Event) -> None:
        self.events.append(event)
        if self.when(event):
            self.stop.set()


def interrupted_apply(folder: Path, when: Callable[[Event], bool]) -> ApplyResult:
    """Apply, stopping (as Ctrl-C does) at the first event ``when`` matches."""
    ws = open_workspace(str(folder), None, ENV)

    async def go() -> ApplyResult:
        stop = asyncio.Event()
        async with ws.provider() as provider:
            outcome = await apply_session(
                ws.config, provider, ws.backend, plan_sink=ListSink(), apply_sink=lambda _: StopAt(stop, when),
                options=SessionOptions(apply=FAST), stop=stop)
        assert outcome.result is not None
        return outcome.result

    result = asyncio.run(go())
    assert result.interrupted, "the apply was not interrupted"
    return result


def drift_of(folder: Path) -> tuple[object, ...]:
    ws = open_workspace(str(folder), None, ENV)

    async def go() -> tuple[object, ...]:
        async with ws.provider() as provider:
            return (await detect_drift(ws.config, provider, ws.backend.read() or State.new(), ListSink())).items

    return asyncio.run(go())


def waiting(address: str, state: str) -> Callable[[Event], bool]:
    return lambda e: isinstance(e, OperationProgress) and e.address == address and e.state == state


def starting(address: str, op: str) -> Callable[[Event], bool]:
    return lambda e: isinstance(e, OperationStarted) and e.address == address and e.operation == op


def slow_updates(folder: Path) -> None:
    """Make the emulated deployment stay UPDATING for ten minutes (the interrupt surely comes while it waits)."""
    cfg = folder / "lorainfra.yaml"
    cfg.write_text(cfg.read_text().replace("ready_after: 0.05", "ready_after: 600"))


def bump_max_replicas(folder: Path) -> None:
    deployments = folder / "deployments.yaml"
    deployments.write_text(deployments.read_text().replace("replicas: {min: 1, max: 2}", "replicas: {min: 1, max: 3}"))


# ---------------------------------------------------------------- point 6: an interrupted update
def test_point6_an_update_interrupted_after_it_was_sent_is_recorded_by_the_next_apply(quickstart: Path) -> None:
    assert apply(quickstart).ok
    bump_max_replicas(quickstart)
    slow_updates(quickstart)
    stopped = interrupted_apply(quickstart, waiting("deployment.shared-base", "UPDATING"))
    assert [label for label, _ in stopped.stopped] == ["deployment.shared-base (update)"]
    # the update landed live; the state knows an update was in flight
    marker = stopped.state.pending["deployment.shared-base"]
    assert marker.operation == "update" and marker.attributes["max_replica_count"] == 3
    assert drift_of(quickstart) == ()  # the in-flight update is reconciled, not reported as drift
    planned = plan(quickstart)
    assert planned.plan.has_changes is False
    assert ("deployment.shared-base: an interrupted update of accounts/quickstart/deployments/shared-base had "
            "landed; recorded") in planned.notes
    ws = open_workspace(str(quickstart), None, ENV)

    async def heal() -> State:
        async with ws.provider() as provider:
            outcome = await apply_session(ws.config, provider, ws.backend, plan_sink=ListSink(),
                                          apply_sink=lambda _: ListSink(), options=SessionOptions(apply=FAST))
        assert outcome.result is not None and outcome.result.ok
        return outcome.result.state

    healed = asyncio.run(heal())
    assert healed.pending == {}
    assert healed.resources["deployment.shared-base"].attributes["max_replica_count"] == 3
    assert drift_of(quickstart) == ()
    r = cli("drift", str(quickstart))
    assert r.code == 0, r.out + r.err


def test_point6_an_update_that_did_not_land_is_planned_again(quickstart: Path) -> None:
    first = apply(quickstart)
    bump_max_replicas(quickstart)
    # the state as a kill between writing the marker and sending the PATCH leaves it
    ws = open_workspace(str(quickstart), None, ENV)
    recorded = first.state.resources["deployment.shared-base"]
    marker = PendingOp("deployment.shared-base", "update", "deployment", {"remote_name": recorded.remote_name},
                       {**recorded.attributes, "max_replica_count": 3}, recorded.dependencies)
    ws.backend.write(first.state.with_pending(marker))
    planned = plan(quickstart)
    assert {c.address: c.action for c in planned.plan.actionable} == {"deployment.shared-base": Action.UPDATE}
    assert ("deployment.shared-base: an interrupted update of accounts/quickstart/deployments/shared-base did not "
            "land; it is planned again") in planned.notes
    assert planned.state.pending == {}
    result = apply(quickstart)
    assert result.ok and result.state.pending == {}
    assert result.state.resources["deployment.shared-base"].attributes["max_replica_count"] == 3
    assert drift_of(quickstart) == ()


def test_point6_an_interrupted_reset_of_a_removed_key_that_did_not_land_is_planned_again(quickstart: Path) -> None:
    deployments = quickstart / "deployments.yaml"
    deployments.write_text(deployments.read_text().replace(
        "    addons: true\n", "    addons: true\n    max_context_length: 4096\n", 1))
    first = apply(quickstart)
    deployments.write_text(deployments.read_text().replace("    max_context_length: 4096\n", ""))
    recorded = first.state.resources["deployment.shared-base"]
    # killed between the marker and the PATCH: the values sent no longer hold the removed key
    sent = {k: v for k, v in recorded.attributes.items() if k != "max_context_length"}
    ws = open_workspace(str(quickstart), None, ENV)
    ws.backend.write(first.state.with_pending(PendingOp(
        "deployment.shared-base", "update", "deployment", {"remote_name": recorded.remote_name}, sent,
        recorded.dependencies)))
    planned = plan(quickstart)
    assert any(n.endswith("did not land; it is planned again") for n in planned.notes), planned.notes
    (change,) = planned.plan.actionable
    assert [(a.name, a.reset) for a in change.attributes] == [("max_context_length", True)]


# ---------------------------------------------------------------- point 6: an interrupted create-before-destroy
def seed_faq_bot_v2(folder: Path) -> None:
    (folder / "models.json").write_text(json.dumps({"models": [
        {"name": "accounts/quickstart/models/faq-bot-v2", "kind": "HF_PEFT_ADDON", "state": "READY",
         "peftDetails": {"baseModel": "accounts/fireworks/models/llama-v3p1-8b-instruct", "r": 8,
                         "targetModules": ["q_proj", "v_proj"]}}]}))
    cfg = folder / "lorainfra.yaml"
    cfg.write_text(cfg.read_text().replace("  emulator:\n", "  emulator:\n    seed: models.json\n"))


def test_point6_a_replacement_interrupted_before_the_old_copy_went_deletes_it_next_time(quickstart: Path) -> None:
    seed_faq_bot_v2(quickstart)
    first = apply(quickstart)
    old = first.state.resources["lora.faq-bot"].remote_name
    loras = quickstart / "loras.yaml"
    loras.write_text(loras.read_text().replace("faq-bot-v1", "faq-bot-v2"))
    stopped = interrupted_apply(quickstart, starting("lora.faq-bot", "create"))
    new = stopped.state.resources["lora.faq-bot"].remote_name
    assert new != old
    assert old in live_objects(quickstart)  # the old copy is still loaded: the state must remember it
    assert set(stopped.state.deposed) == {old}
    assert json.loads((quickstart / ".lorainfra" / "state.json").read_text())["format_version"] == 2
    assert f"lora.faq-bot\t{old} (deposed: the next apply deletes it)" in cli("state", "list", str(quickstart)).out
    planned = plan(quickstart)
    (change,) = planned.plan.actionable
    assert change.deposed and change.action is Action.DELETE and change.remote_name == old
    assert change.address == f"lora.faq-bot (deposed {old.rsplit('/', 1)[-1]})"
    text = render_plan(planned.plan)
    assert f"# {change.address} will be destroyed (the old copy an interrupted create-before-destroy" in text
    assert old not in planned.plan.unmanaged
    result = apply(quickstart)
    assert result.ok, (result.failed, result.skipped)
    assert old not in live_objects(quickstart) and new in live_objects(quickstart)
    assert result.state.deposed == {} and result.state.resources["lora.faq-bot"].remote_name == new
    assert json.loads((quickstart / ".lorainfra" / "state.json").read_text())["format_version"] == 1
    assert plan(quickstart).plan.has_changes is False


def test_point6_a_replacement_interrupted_before_its_create_was_recorded_keeps_the_old_copy(quickstart: Path) -> None:
    """Killed between the create request and its record: the pending create is adopted and the old copy deposed."""
    seed_faq_bot_v2(quickstart)
    first = apply(quickstart)
    old = first.state.resources["lora.faq-bot"].remote_name
    loras = quickstart / "loras.yaml"
    loras.write_text(loras.read_text().replace("faq-bot-v1", "faq-bot-v2"))
    stopped = interrupted_apply(quickstart, starting("lora.faq-bot", "create"))
    ws = open_workspace(str(quickstart), None, ENV)
    new = stopped.state.resources["lora.faq-bot"]
    # the state as a kill right after the create was sent leaves it: the marker, the old entry, no deposed copy

    from lorainfra.kinds.registry import kind_of

    identity = kind_of("lora").identity("faq-bot", new.attributes, "quickstart")
    marker = PendingOp("lora.faq-bot", "create", "lora", identity, new.attributes, new.dependencies)
    current = ws.backend.read()
    assert current is not None
    ws.backend.write(current.without_deposed(old).with_resource(first.state.resources["lora.faq-bot"])
                     .with_pending(marker))
    planned = plan(quickstart)
    assert [c.remote_name for c in planned.plan.actionable if c.deposed] == [old]
    result = apply(quickstart)
    assert result.ok and result.state.resources["lora.faq-bot"].remote_name == new.remote_name
    assert old not in live_objects(quickstart) and result.state.deposed == {}


# ---------------------------------------------------------------- point 7: a plan or drift while another apply holds the lock
@pytest.fixture(params=["local", "postgres"])
def backend_env(request: pytest.FixtureRequest, quickstart: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """The quickstart's state in each backend; the env the CLI needs for it (both record the lock holder)."""
    if request.param == "local":
        return {}
    dsn = request.getfixturevalue("pg_dsn")
    cfg = quickstart / "lorainfra.yaml"
    workspace = f"heal-{uuid.uuid4().hex[:12]}"
    cfg.write_text(cfg.read_text().replace(
        "  backend: local ", f"  backend: postgres\n  dsn_env: LORAINFRA_HEAL_DSN\n  workspace: {workspace}\n  #"))
    monkeypatch.setitem(ENV, "LORAINFRA_HEAL_DSN", dsn)  # the in-process helpers read ENV
    return {"LORAINFRA_HEAL_DSN": dsn}


def test_point7_plan_and_drift_on_a_locked_state_say_who_holds_it_and_what_it_is_changing(
    quickstart: Path, backend_env: dict[str, str]
) -> None:
    def cli(*args: str) -> Result:
        return run_cli(*args, env=backend_env)

    assert apply(quickstart).ok
    bump_max_replicas(quickstart)
    slow_updates(quickstart)
    # an apply whose update is in flight: its marker is in the state, the live object already has the new value
    interrupted_apply(quickstart, waiting("deployment.shared-base", "UPDATING"))
    ws = open_workspace(str(quickstart), None, ENV)
    with ws.backend.lock("apply") as holder:
        r = cli("drift", str(quickstart))
        assert r.code == 0, r.out + r.err  # the holder's change is not drift
        assert "max_replica_count" not in r.out
        assert f"Warning: the state is locked by {holder.who} since {holder.created} for 'apply'" in r.out
        assert f"~ deployment.shared-base: being changed by {holder.who} (update in flight)" in r.out
        r = cli("drift", str(quickstart), "--json")
        report = json.loads(r.out)
        assert r.code == 0 and report["drift"] == [] and report["lock"]["who"] == holder.who
        assert report["in_flight"] == [{"address": "deployment.shared-base", "operation": "update"}]
        r = cli("plan", str(quickstart))
        assert r.code == 0, r.out + r.err
        assert "(drift)" not in r.out and "max_replica_count" not in r.out
        assert f"being changed by {holder.who} (update in flight)" in r.out and holder.created in r.out
        assert "No changes." in r.out
        md = cli("plan", str(quickstart), "--format", "markdown").out
        assert f"the state is locked by {holder.who}" in md and "`deployment.shared-base` (update)" in md
        # the marker belongs to the running apply: a read-only plan leaves it alone
        assert ws.backend.read().pending["deployment.shared-base"].operation == "update"  # type: ignore[union-attr]
    r = cli("drift", str(quickstart))  # lock released: the marker is an interrupted run's, reconciled
    assert r.code == 0 and "locked" not in r.out and "No drift" in r.out, r.out + r.err


# ---------------------------------------------------------------- refresh-only plans and applies
def change_live(folder: Path, remote_name: str, **values: object) -> None:
    """Edit a live object behind lorainfra's back (as someone in the console would)."""
    ws = open_workspace(str(folder), None, ENV)

    async def go() -> None:
        async with ws.provider() as provider:
            obj = await provider.get("deployment", remote_name)
            assert obj is not None
            await provider.update("deployment", obj.name, {**obj.attributes, **values}, tuple(values))
            await until_ready(provider, remote_name)  # READY again: a plan then sees it settled

    asyncio.run(go())


def live_attributes(folder: Path) -> dict[str, dict[str, object]]:
    """The managed attributes of every live deployment and LoRA (not their states: those move on with time)."""
    ws = open_workspace(str(folder), None, ENV)

    async def go() -> dict[str, dict[str, object]]:
        async with ws.provider() as provider:
            observed = await provider.refresh()
            return {name: dict(o.attributes) for name, o in observed.objects.items()
                    if not o.gone and o.kind in ("deployment", "lora")}

    return asyncio.run(go())


def test_refresh_only_plan_shows_drift_and_a_saved_one_accepts_it_changing_no_live_object(
    quickstart: Path, tmp_path: Path
) -> None:
    first = apply(quickstart)
    base = first.state.resources["deployment.shared-base"].remote_name
    change_live(quickstart, base, max_replica_count=4)
    before = live_attributes(quickstart)
    q, saved = str(quickstart), str(tmp_path / "refresh.plan")
    r = cli("plan", q, "--refresh-only", "--out", saved, "--detailed-exitcode")
    assert r.code == 2, r.out + r.err
    assert "deployment.shared-base: max_replica_count was 2, is now 4" in r.out
    assert "Refresh-only plan: 1 resource changed outside lorainfra; applying it accepts the live values" in r.out
    assert "will be updated" not in r.out  # a refresh-only plan proposes no live change
    doc = json.loads(cli("show", saved, "--json").out)
    assert doc["refresh_only"] is True and doc["changes"] == [] and doc["has_changes"] is True
    r = cli("apply", saved)
    assert r.code == 0, r.out + r.err
    state = json.loads((quickstart / ".lorainfra" / "state.json").read_text())
    assert state["resources"]["deployment.shared-base"]["attributes"]["max_replica_count"] == 4
    assert live_attributes(quickstart) == before  # nothing live was touched
    assert cli("drift", q).code == 0
    # the config still says 2: a normal plan now proposes to put it back, as for any accepted drift
    planned = plan(quickstart)
    assert {c.address: c.action for c in planned.plan.actionable} == {"deployment.shared-base": Action.UPDATE}
    r = cli("plan", q, "--refresh-only", "--detailed-exitcode")
    assert r.code == 0 and "refresh-only: nothing to accept" in r.out, r.out + r.err


def test_apply_refresh_only_needs_approval_and_forgets_a_vanished_object(quickstart: Path) -> None:
    first = apply(quickstart)
    helper = first.state.resources["deployment.sql-helper"].remote_name
    ws = open_workspace(str(quickstart), None, ENV)

    async def delete() -> None:
        async with ws.provider() as provider:
            await provider.delete("deployment", helper)

    asyncio.run(delete())
    q = str(quickstart)
    r = cli("apply", q, "--refresh-only")
    assert r.code == 1 and "--auto-approve" in r.err, r.out + r.err  # no terminal to confirm on
    assert "deployment.sql-helper" in json.loads((quickstart / ".lorainfra" / "state.json").read_text())["resources"]
    r = cli("apply", q, "--refresh-only", "--auto-approve")
    assert r.code == 0, r.out + r.err
    assert "deployment.sql-helper: vanished from the account" in r.out
    resources = json.loads((quickstart / ".lorainfra" / "state.json").read_text())["resources"]
    assert "deployment.sql-helper" not in resources and "deployment.shared-base" in resources
    r = cli("plan", q, "--refresh-only", "--destroy")
    assert r.code != 0 and "--refresh-only" in r.err
