"""Issue 10 item 5: a deployment ID held by a soft-deleted deployment (deleted outside lorainfra, or auto-deleted
after 7 idle days at replicas.min 0) is reclaimed: undeleted and updated, or hard-deleted and created again."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import httpx

from lorainfra.cli.context import open_workspace
from lorainfra.emulator import Emulator, EmulatorOptions
from lorainfra.engine.events import ListSink, Note
from lorainfra.engine.session import SessionOptions, SessionResult, apply_session
from lorainfra.plan.model import Action, Plan
from tests.lifecycle.test_lifecycle import ENV, FAST, actions, apply, plan

DEPLOYMENTS = "/v1/accounts/quickstart/deployments"
SQL_HELPER = {"baseModel": "accounts/quickstart/models/sql-helper-v2", "acceleratorType": "NVIDIA_A100_80GB",
              "acceleratorCount": 1, "minReplicaCount": 1, "maxReplicaCount": 3, "displayName": "by hand"}


async def by_hand(folder: Path, calls: list[tuple[str, str, dict[str, Any]]], *, settle: bool = True) -> None:
    """Send requests to the emulated account the way a colleague with firectl would, then (``settle``) let the
    emulated clock pass the delete (DELETING -> DELETED takes delete_after, 0.5 s): no sleep, a condition."""
    emu = Emulator(folder / ".lorainfra" / "emulator.db", EmulatorOptions(ready_after=0.05))
    try:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=emu.app), base_url="http://emulator.local",
                                     headers={"Authorization": "Bearer someone-else"}) as client:
            for method, path, kw in calls:
                response = await client.request(method, path, **kw)
                assert response.status_code == 200, response.text
            if not settle:
                return
            emu.advance(1)
            for _, path, _ in calls:
                if path.startswith(f"{DEPLOYMENTS}/"):
                    state = (await client.get(path)).json()["state"]
                    assert state == "DELETED", state
    finally:
        emu.close()


def soft_delete(folder: Path, deployment_id: str) -> None:
    asyncio.run(by_hand(folder, [("DELETE", f"{DEPLOYMENTS}/{deployment_id}", {"params": {"ignoreChecks": "true"}})]))


def live_deployment(folder: Path, deployment_id: str) -> dict[str, Any]:
    ws = open_workspace(str(folder), None, ENV)

    async def go() -> dict[str, Any]:
        async with ws.provider() as provider:
            obj = await provider.get("deployment", provider.remote_name("deployment", deployment_id))
            assert obj is not None
            return {"state": obj.state, **obj.attributes}

    return asyncio.run(go())


def test_a_deployment_soft_deleted_outside_is_undeleted_and_updated(quickstart: Path) -> None:
    assert apply(quickstart).ok
    soft_delete(quickstart, "shared-base")  # its LoRAs go with it
    p = plan(quickstart)
    assert actions(p) == {"deployment.shared-base": Action.CREATE, "lora.faq-bot": Action.CREATE,
                          "lora.support-bot": Action.CREATE}
    (change,) = [c for c in p.plan.actionable if c.address == "deployment.shared-base"]
    assert change.reason == ("vanished from the account; the ID is held by a soft-deleted deployment "
                             "(accounts/quickstart/deployments/shared-base); apply undeletes it and updates it")
    result = apply(quickstart)
    assert result.ok, (result.failed, result.skipped)
    assert live_deployment(quickstart, "shared-base")["state"] == "READY"
    again = plan(quickstart)
    assert again.plan.has_changes is False and again.plan.drift == ()


def test_a_held_id_that_cannot_be_updated_in_place_is_hard_deleted_and_created_again(quickstart: Path) -> None:
    # someone's old sql-helper on other hardware, soft-deleted: undeleting it could not give the config's
    # accelerator (it forces replacement), so apply deletes it for good, waits for 404 and creates
    held = {**SQL_HELPER, "acceleratorType": "NVIDIA_H100_80GB"}
    asyncio.run(by_hand(quickstart, [("POST", DEPLOYMENTS, {"params": {"deploymentId": "sql-helper"}, "json": held}),
                                     ("DELETE", f"{DEPLOYMENTS}/sql-helper", {})]))
    p = plan(quickstart)
    (change,) = [c for c in p.plan.actionable if c.address == "deployment.sql-helper"]
    assert change.action is Action.CREATE
    assert change.reason == ("the ID is held by a soft-deleted deployment (accounts/quickstart/deployments/"
                             "sql-helper) that cannot become the config in place; apply deletes it for good "
                             "(hard delete), waits until it is gone (404) and creates it again")
    result = apply(quickstart)
    assert result.ok, (result.failed, result.skipped)
    live = live_deployment(quickstart, "sql-helper")
    assert (live["state"], live["accelerator_type"], live["display_name"]) == (
        "READY", "NVIDIA_A100_80GB", "SQL helper (live merge)")
    assert plan(quickstart).plan.has_changes is False


def test_a_create_answered_409_by_a_soft_deleted_id_undeletes_and_updates(quickstart: Path) -> None:
    # the race: the plan saw no sql-helper; between the plan and the create someone made one and deleted it
    notes = _apply_after_a_colleague_made_and_deleted_it(quickstart, settle=True)
    assert ("deployment.sql-helper: the ID is held by a soft-deleted deployment (accounts/quickstart/deployments/"
            "sql-helper); apply undeletes it and updates it") in notes
    live = live_deployment(quickstart, "sql-helper")
    # undeleted (the one made by hand, same create time) and updated to the config
    assert (live["state"], live["max_replica_count"], live["display_name"]) == ("READY", 1, "SQL helper (live merge)")
    assert plan(quickstart).plan.has_changes is False


def test_a_create_answered_409_while_the_id_is_still_being_deleted_waits_then_undeletes(quickstart: Path) -> None:
    # the same race, caught while the colleague's delete is still running (DELETING): apply waits for its end
    notes = _apply_after_a_colleague_made_and_deleted_it(quickstart, settle=False)
    assert notes[:2] == [
        "deployment.sql-helper: accounts/quickstart/deployments/sql-helper is DELETING; waiting for that delete to end",
        "deployment.sql-helper: the ID is held by a soft-deleted deployment (accounts/quickstart/deployments/"
        "sql-helper); apply undeletes it and updates it"]
    live = live_deployment(quickstart, "sql-helper")
    assert (live["state"], live["max_replica_count"], live["display_name"]) == ("READY", 1, "SQL helper (live merge)")
    assert plan(quickstart).plan.has_changes is False


def _apply_after_a_colleague_made_and_deleted_it(quickstart: Path, *, settle: bool) -> list[str]:
    """Apply, with someone creating sql-helper and deleting it between the plan and the create (the race); the
    apply's notes. ``settle``: their delete has ended (DELETED) before the create, else it is still DELETING."""
    ws = open_workspace(str(quickstart), None, ENV)
    sink = ListSink()

    async def meanwhile(_: Plan) -> bool:
        await by_hand(quickstart, [("POST", DEPLOYMENTS, {"params": {"deploymentId": "sql-helper"}, "json": SQL_HELPER}),
                                   ("DELETE", f"{DEPLOYMENTS}/sql-helper", {})], settle=settle)
        return True

    async def go() -> SessionResult:
        async with ws.provider() as provider:
            return await apply_session(ws.config, provider, ws.backend, plan_sink=ListSink(),
                                       apply_sink=lambda _: sink, confirm=meanwhile,
                                       options=SessionOptions(apply=FAST))

    outcome = asyncio.run(go())
    assert outcome.result is not None and outcome.result.ok, (outcome.result and outcome.result.failed)
    return [e.message for e in sink.events if isinstance(e, Note)]
