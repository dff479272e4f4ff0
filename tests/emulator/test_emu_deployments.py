"""Deployment lifecycle against the in-process emulator: states, updates, scale, delete, undelete, drift."""

from __future__ import annotations

from tests.emulator.emukit import (
    ACCOUNT,
    LLAMA,
    SQL_HELPER,
    SUPPORT_BOT,
    Api,
    FakeClock,
    MakeApi,
    assert_rpc_error,
    ready_deployment,
)

D = f"/v1/accounts/{ACCOUNT}/deployments"


def test_create_then_ready_after_ready_after(api: Api, clock: FakeClock) -> None:
    resp = api.create_deployment("base", minReplicaCount=1, maxReplicaCount=3, displayName="Base")
    assert resp.status_code == 200
    data = resp.json()
    assert data["name"] == f"accounts/{ACCOUNT}/deployments/base"
    assert data["state"] == "CREATING"
    assert data["createTime"].endswith("Z") and data["updateTime"] == data["createTime"]
    assert data["deploymentShape"].endswith("/versions/v2")
    assert data["autoscalingPolicy"] == {
        "scaleUpWindow": "30s",
        "scaleDownWindow": "600s",
        "scaleToZeroWindow": "3600s",
    }
    clock.tick(1.9)
    assert api.deployment("base").json()["state"] == "CREATING"
    clock.tick(0.2)
    ready = api.deployment("base").json()
    assert ready["state"] == "READY"
    assert ready["replicaCount"] == 1 and ready["status"] == {"code": "OK", "message": ""}
    assert ready["updateTime"] > ready["createTime"]


def test_defaults_and_duration_forms(api: Api) -> None:
    resp = api.create_deployment(
        "d1",
        deploymentShape=None,
        enableAddons=False,
        acceleratorType="NVIDIA_H100_80GB",
        minReplicaCount=2,
        autoscalingPolicy={
            "scaleUpWindow": "1m",
            "scale_down_window": "1h",
            "scaleToZeroWindow": "600s",
            "loadTargets": {"default": 0.5},
        },
    )
    data = resp.json()
    assert resp.status_code == 200, data
    assert data["maxReplicaCount"] == 2 and data["minReplicaCount"] == 2
    assert data["acceleratorCount"] == 1
    assert data["autoscalingPolicy"] == {
        "scaleUpWindow": "60s",
        "scaleDownWindow": "3600s",
        "scaleToZeroWindow": "600s",
        "loadTargets": {"default": 0.5},
    }


def test_random_id_and_validate_only(api: Api) -> None:
    resp = api.post(D, json={"baseModel": LLAMA, "deploymentShape": "default"})
    assert resp.status_code == 200
    dep_id = resp.json()["name"].rsplit("/", 1)[1]
    assert api.deployment(dep_id).status_code == 200
    dry = api.create_deployment("dry", _params={"validateOnly": True})
    assert dry.status_code == 200 and dry.json()["name"].endswith("/dry")
    assert api.deployment("dry").status_code == 404
    bad = api.create_deployment("dry", acceleratorType="NVIDIA_H100_80GB", _params={"validateOnly": True})
    assert_rpc_error(bad, 3, 400)
    assert api.get(D).json()["totalSize"] == 1


def test_create_existing_is_already_exists_without_retry(api: Api, clock: FakeClock) -> None:
    api.create_deployment("dup")
    resp = api.create_deployment("dup")
    assert_rpc_error(resp, 6, 409, contains="already exists")
    assert resp.headers["x-should-retry"] == "false"
    api.delete(f"{D}/dup")
    clock.tick(1)
    assert api.deployment("dup").json()["state"] == "DELETED"
    assert_rpc_error(api.create_deployment("dup"), 6, 409, contains="soft-deleted")


def test_patch_with_update_mask_changes_only_masked_fields(api: Api, clock: FakeClock) -> None:
    ready_deployment(api, clock, displayName="old", description="keep", minReplicaCount=1, maxReplicaCount=2)
    resp = api.patch(
        f"{D}/base",
        params={"updateMask": "display_name,autoscaling_policy.scale_up_window"},
        json={
            "baseModel": LLAMA,
            "displayName": "new",
            "description": "ignored",
            "autoscalingPolicy": {"scaleUpWindow": "2m"},
        },
    )
    data = resp.json()
    assert resp.status_code == 200, data
    assert data["displayName"] == "new" and data["description"] == "keep"
    assert data["autoscalingPolicy"]["scaleUpWindow"] == "120s"
    assert data["autoscalingPolicy"]["scaleDownWindow"] == "600s"
    assert data["state"] == "UPDATING"
    clock.tick(2.5)
    assert api.deployment("base").json()["state"] == "READY"
    # camelCase mask, and a masked field absent from the body is cleared
    resp = api.patch(f"{D}/base", params={"updateMask": "description"}, json={"baseModel": LLAMA})
    assert "description" not in resp.json()


def test_patch_without_mask_replaces_mutable_fields(api: Api, clock: FakeClock) -> None:
    ready_deployment(api, clock, displayName="old", description="gone", minReplicaCount=1, maxReplicaCount=4)
    body = {
        "baseModel": LLAMA,
        "deploymentShape": "accounts/fireworks/deploymentShapes/llama-v3p1-8b-instruct-multi-lora",
        "enableAddons": True,
        "maxReplicaCount": 2,
        "state": "FAILED",
        "replicaCount": 99,
        "unknownField": 1,
    }
    data = api.patch(f"{D}/base", json=body).json()
    assert "displayName" not in data and "description" not in data
    assert data["minReplicaCount"] == 0 and data["maxReplicaCount"] == 2
    assert data["state"] == "UPDATING"


def test_noop_patch_keeps_state(api: Api, clock: FakeClock) -> None:
    current = ready_deployment(api, clock)
    data = api.patch(f"{D}/base", params={"updateMask": "displayName"}, json={"baseModel": LLAMA}).json()
    assert data["state"] == "READY" and data["updateTime"] == current["updateTime"]


def test_base_model_is_immutable(api: Api, clock: FakeClock) -> None:
    ready_deployment(api, clock)
    resp = api.patch(f"{D}/base", json={"baseModel": "accounts/fireworks/models/qwen2p5-7b-instruct"})
    assert_rpc_error(resp, 3, 400, contains="immutable")
    resp = api.patch(
        f"{D}/base",
        params={"updateMask": "base_model"},
        json={"baseModel": "accounts/fireworks/models/qwen2p5-7b-instruct"},
    )
    assert_rpc_error(resp, 3, 400, contains="immutable")


def test_patch_while_creating_stays_creating(api: Api, clock: FakeClock) -> None:
    api.create_deployment("base")
    data = api.patch(
        f"{D}/base", params={"updateMask": "displayName"}, json={"baseModel": LLAMA, "displayName": "x"}
    ).json()
    assert data["state"] == "CREATING" and data["displayName"] == "x"
    clock.tick(2.1)
    assert api.deployment("base").json()["state"] == "READY"


def test_scale(api: Api, clock: FakeClock) -> None:
    ready_deployment(api, clock, minReplicaCount=1, maxReplicaCount=4)
    resp = api.patch(f"{D}/base:scale", json={"replicaCount": 3})
    assert resp.status_code == 200 and resp.json() == {}
    data = api.deployment("base").json()
    assert data["desiredReplicaCount"] == 3 and data["replicaCount"] == 3
    assert_rpc_error(api.patch(f"{D}/base:scale", json={"replicaCount": 9}), 3, 400)
    assert_rpc_error(api.patch(f"{D}/base:scale", json={"replicaCount": -1}), 3, 400)
    assert api.patch(f"{D}/base:scale", json={"replicaCount": 0}).status_code == 200
    assert api.deployment("base").json()["replicaCount"] == 0


def test_soft_delete_undelete_and_purge(api: Api, clock: FakeClock) -> None:
    ready_deployment(api, clock)
    resp = api.delete(f"{D}/base")
    assert resp.status_code == 200 and resp.json() == {}
    assert api.deployment("base").json()["state"] == "DELETING"
    clock.tick(0.6)
    data = api.deployment("base").json()
    assert data["state"] == "DELETED" and data["deleteTime"] and data["purgeTime"] > data["deleteTime"]
    assert api.get(D).json()["deployments"] == []
    shown = api.get(D, params={"showDeleted": True}).json()
    assert [d["name"] for d in shown["deployments"]] == [data["name"]] and shown["totalSize"] == 1
    undeleted = api.post(f"{D}/base:undelete", json={})
    assert undeleted.status_code == 200 and undeleted.json()["state"] == "CREATING"
    assert "deleteTime" not in undeleted.json()
    assert_rpc_error(api.post(f"{D}/base:undelete", json={}), 9, 400, contains="only DELETED or FAILED")
    clock.tick(2.1)
    assert api.deployment("base").json()["state"] == "READY"
    api.delete(f"{D}/base")
    clock.tick(0.6 + 7 * 86400)
    assert_rpc_error(api.deployment("base"), 5, 404)
    assert api.get(D, params={"showDeleted": True}).json()["deployments"] == []


def test_hard_delete_is_gone(api: Api, clock: FakeClock) -> None:
    ready_deployment(api, clock)
    api.delete(f"{D}/base", params={"hard": True})
    assert api.deployment("base").json()["state"] == "DELETING"
    clock.tick(0.6)
    assert_rpc_error(api.deployment("base"), 5, 404, contains="not found")
    assert api.create_deployment("base").status_code == 200


def test_delete_with_loaded_loras_needs_ignore_checks(api: Api, clock: FakeClock) -> None:
    ready_deployment(api, clock)
    lora = api.load(SUPPORT_BOT, "base").json()
    assert_rpc_error(api.delete(f"{D}/base"), 9, 400, contains="ignoreChecks")
    assert api.delete(f"{D}/base", params={"ignoreChecks": True}).status_code == 200
    dm = api.get(f"/v1/{lora['name']}").json()
    assert dm["state"] == "UNDEPLOYING"
    clock.tick(0.6)
    assert api.get(f"/v1/{lora['name']}").status_code == 404
    assert api.deployment("base").json()["state"] == "DELETED"


def test_fail_pattern_goes_failed_and_undelete_retries(make_api: MakeApi, clock: FakeClock) -> None:
    api = make_api(fail_pattern="^bad-")
    api.create_deployment("bad-one")
    clock.tick(2.1)
    data = api.deployment("bad-one").json()
    assert data["state"] == "FAILED" and data["status"]["code"] == "INTERNAL"
    assert api.post(f"{D}/bad-one:undelete", json={}).json()["state"] == "CREATING"
    assert api.create_deployment("good-one").status_code == 200
    clock.tick(2.1)
    assert api.deployment("good-one").json()["state"] == "READY"
    assert api.deployment("bad-one").json()["state"] == "FAILED"


def test_idle_scale_to_zero_deployments_are_auto_deleted(api: Api, clock: FakeClock) -> None:
    ready_deployment(api, clock, dep_id="idle", minReplicaCount=0)
    ready_deployment(api, clock, dep_id="busy", minReplicaCount=1)
    api.load(SUPPORT_BOT, "idle")
    api.emu.advance(7 * 86400 - 10)
    assert api.deployment("idle").json()["state"] == "READY"
    api.emu.advance(20)
    idle = api.deployment("idle").json()
    assert idle["state"] == "DELETED" and "idle" in idle["status"]["message"]
    assert api.deployment("busy").json()["state"] == "READY"
    left = api.get(f"/v1/accounts/{ACCOUNT}/deployedModels").json()["deployedModels"]
    assert [(d["model"], d["deployment"].rsplit("/", 1)[1]) for d in left] == [(LLAMA, "busy")]  # busy's base row
    assert [d["name"].rsplit("/", 1)[1] for d in api.get(D).json()["deployments"]] == ["busy"]


def test_update_resets_idle_timer(api: Api, clock: FakeClock) -> None:
    ready_deployment(api, clock, minReplicaCount=0)
    api.emu.advance(6 * 86400)
    api.patch(
        f"{D}/base", params={"updateMask": "displayName"}, json={"baseModel": LLAMA, "displayName": "touch"}
    )
    api.emu.advance(2 * 86400)
    assert api.deployment("base").json()["state"] == "READY"


def test_live_merge_deployment(api: Api, clock: FakeClock) -> None:
    resp = api.create_deployment(
        "merged", baseModel=SQL_HELPER, enableAddons=False, deploymentShape="default"
    )
    assert resp.status_code == 200, resp.text
    assert "llama-v3p1-8b-instruct" in resp.json()["deploymentShape"]
    clock.tick(2.1)
    assert api.deployment("merged").json()["state"] == "READY"
    assert_rpc_error(api.load(SUPPORT_BOT, "merged"), 9, 400, contains="enableAddons")
    assert_rpc_error(api.create_deployment("merged2", baseModel=SQL_HELPER), 3, 400, contains="live-merge")


def test_operations_on_missing_deployment_are_not_found(api: Api) -> None:
    assert_rpc_error(api.deployment("nope"), 5, 404)
    assert_rpc_error(api.patch(f"{D}/nope", json={"baseModel": LLAMA}), 5, 404)
    assert_rpc_error(api.delete(f"{D}/nope"), 5, 404)
    assert_rpc_error(api.post(f"{D}/nope:undelete", json={}), 5, 404)
    assert_rpc_error(api.patch(f"{D}/nope:scale", json={"replicaCount": 1}), 5, 404)


def test_patch_of_deleted_deployment_is_failed_precondition(api: Api, clock: FakeClock) -> None:
    ready_deployment(api, clock)
    api.delete(f"{D}/base")
    assert_rpc_error(api.patch(f"{D}/base", json={"baseModel": LLAMA}), 9, 400)
    assert_rpc_error(api.patch(f"{D}/base:scale", json={"replicaCount": 1}), 9, 400)
