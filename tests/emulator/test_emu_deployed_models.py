"""LoRA load/unload: state machine, serverless, hot reload, limits and every load constraint."""

from __future__ import annotations

import pytest

from lorainfra.emulator import deployed_models
from tests.emulator.emukit import (
    ACCOUNT,
    FAQ_BOT,
    LLAMA,
    SQL_HELPER,
    SUMMARIZER,
    SUPPORT_BOT,
    Api,
    FakeClock,
    MakeApi,
    assert_rpc_error,
    ready_deployment,
)

DM = f"/v1/accounts/{ACCOUNT}/deployedModels"


def test_load_deploying_deployed_unload_gone(api: Api, clock: FakeClock) -> None:
    ready_deployment(api, clock)
    resp = api.load(SUPPORT_BOT, "base", displayName="Support")
    data = resp.json()
    assert resp.status_code == 200, data
    assert data["state"] == "DEPLOYING" and data["default"] is True and data["serverless"] is False
    assert data["name"].startswith(f"accounts/{ACCOUNT}/deployedModels/support-bot-v3-")
    assert data["deployment"] == f"accounts/{ACCOUNT}/deployments/base"
    clock.tick(1.01)
    assert api.get(f"/v1/{data['name']}").json()["state"] == "DEPLOYED"
    model = api.get(f"/v1/{SUPPORT_BOT}").json()
    assert "deployedModelRefs" not in model  # refs are per account: quickstart has none
    assert api.delete(f"/v1/{data['name']}").json() == {}
    assert api.get(f"/v1/{data['name']}").json()["state"] == "UNDEPLOYING"
    clock.tick(0.51)
    assert_rpc_error(api.get(f"/v1/{data['name']}"), 5, 404)


def test_default_flag_only_on_first_copy(api: Api, clock: FakeClock) -> None:
    ready_deployment(api, clock, dep_id="a")
    ready_deployment(api, clock, dep_id="b")
    first = api.load(SUPPORT_BOT, "a").json()
    second = api.load(SUPPORT_BOT, "b").json()
    assert first["default"] is True and second["default"] is False
    third = api.load(FAQ_BOT, "b", default=True).json()
    assert third["default"] is True


def test_patch_updates_metadata_with_updating_state(api: Api, clock: FakeClock) -> None:
    ready_deployment(api, clock)
    dm = api.load(SUPPORT_BOT, "base").json()
    clock.tick(1.1)
    resp = api.patch(f"/v1/{dm['name']}", json={"displayName": "renamed", "description": "d"})
    assert resp.status_code == 200 and resp.json()["state"] == "UPDATING"
    clock.tick(1.1)
    data = api.get(f"/v1/{dm['name']}").json()
    assert data["state"] == "DEPLOYED" and data["displayName"] == "renamed"
    same = api.patch(f"/v1/{dm['name']}", json={"displayName": "renamed"}).json()
    assert same["state"] == "DEPLOYED"
    assert_rpc_error(
        api.patch(f"/v1/{dm['name']}", json={"model": FAQ_BOT}), 3, 400, contains="cannot be changed"
    )
    assert_rpc_error(api.patch(f"/v1/{dm['name']}", json={"name": "accounts/acme/deployedModels/x"}), 3, 400)


def test_load_constraints(api: Api, clock: FakeClock) -> None:
    ready_deployment(api, clock)
    ready_deployment(
        api,
        clock,
        dep_id="plain",
        enableAddons=False,
        deploymentShape="accounts/fireworks/deploymentShapes/llama-v3p1-8b-instruct-fast",
    )
    ready_deployment(
        api,
        clock,
        dep_id="qwen",
        baseModel="accounts/fireworks/models/qwen2p5-7b-instruct",
        deploymentShape="default",
    )
    api.create_deployment("creating")
    assert_rpc_error(api.post(DM, json={}), 3, 400, contains="model is required")
    assert_rpc_error(api.load(SUPPORT_BOT), 3, 400, contains="exactly one")
    assert_rpc_error(api.load(SUPPORT_BOT, "base", serverless=True), 3, 400, contains="exactly one")
    assert_rpc_error(api.load("accounts/quickstart/models/nope", "base"), 5, 404)
    assert_rpc_error(api.load(LLAMA, "base"), 3, 400, contains="not a LoRA")
    assert_rpc_error(api.load(SUPPORT_BOT, "missing"), 5, 404)
    assert_rpc_error(api.load(SUPPORT_BOT, "creating"), 9, 400, contains="not READY")
    assert_rpc_error(api.load(SUPPORT_BOT, "plain"), 9, 400, contains="enableAddons")
    assert_rpc_error(api.load(SUPPORT_BOT, "qwen"), 3, 400, contains="does not match")
    assert_rpc_error(api.load(SUPPORT_BOT, None, deployment="not-a-name"), 3, 400)
    assert_rpc_error(api.load(SUPPORT_BOT, None, deployment="accounts/other/deployments/base"), 5, 404)
    uploading = api.post(
        f"/v1/accounts/{ACCOUNT}/models",
        json={
            "modelId": "fresh",
            "model": {"peftDetails": {"baseModel": LLAMA, "r": 8, "targetModules": ["q_proj"]}},
        },
    )
    assert uploading.json()["state"] == "UPLOADING"
    assert_rpc_error(api.load(f"accounts/{ACCOUNT}/models/fresh", "base"), 9, 400, contains="not READY")


def test_duplicate_and_load_during_unload(api: Api, clock: FakeClock) -> None:
    ready_deployment(api, clock)
    dm = api.load(SUPPORT_BOT, "base").json()
    resp = api.load(SUPPORT_BOT, "base")
    assert_rpc_error(resp, 6, 409, contains="already exists")
    assert resp.headers["x-should-retry"] == "false"
    api.delete(f"/v1/{dm['name']}")
    resp = api.load(SUPPORT_BOT, "base")
    assert_rpc_error(resp, 10, 409, contains="being unloaded")
    assert "x-should-retry" not in resp.headers
    clock.tick(0.6)
    assert api.load(SUPPORT_BOT, "base").status_code == 200


def test_per_deployment_limit(api: Api, clock: FakeClock, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(deployed_models, "MAX_PER_DEPLOYMENT", 2)
    ready_deployment(api, clock)
    assert api.load(SUPPORT_BOT, "base").status_code == 200
    assert api.load(FAQ_BOT, "base").status_code == 200
    resp = api.load(SQL_HELPER, "base")
    assert_rpc_error(resp, 8, 429, contains="at most 2")
    assert resp.headers["x-should-retry"] == "false"


def test_serverless(make_api: MakeApi, clock: FakeClock) -> None:
    api = make_api(serverless_limit=1)
    resp = api.load(SUMMARIZER, serverless=True)
    data = resp.json()
    assert resp.status_code == 200, data
    assert data["serverless"] is True and "deployment" not in data
    assert_rpc_error(api.load(SUMMARIZER, serverless=True), 6, 409)
    assert_rpc_error(api.load(SUPPORT_BOT, serverless=True), 3, 400, contains="serverless")
    api.post(
        f"/v1/accounts/{ACCOUNT}/models",
        json={
            "modelId": "glm-lora",
            "model": {
                "peftDetails": {
                    "baseModel": "accounts/fireworks/models/glm-5p3-flash",
                    "r": 8,
                    "targetModules": ["q_proj"],
                }
            },
        },
    )
    _finish_upload(api, "glm-lora")
    assert_rpc_error(
        api.load(f"accounts/{ACCOUNT}/models/glm-lora", serverless=True), 8, 429, contains="at most 1"
    )
    clock.tick(1.1)
    listed = api.get(DM, params={"filter": "serverless=true"}).json()
    assert [d["state"] for d in listed["deployedModels"]] == ["DEPLOYED"]
    assert api.get(DM, params={"filter": "serverless=false"}).json()["deployedModels"] == []


def test_serverless_idle_unload(api: Api) -> None:
    dm = api.load(SUMMARIZER, serverless=True).json()
    api.emu.advance(7 * 86400 - 5)
    assert api.get(f"/v1/{dm['name']}").json()["state"] == "DEPLOYED"
    api.emu.advance(10)
    assert_rpc_error(api.get(f"/v1/{dm['name']}"), 5, 404)


def test_hot_reload_requires_replace_merged_addon(api: Api, clock: FakeClock) -> None:
    ready_deployment(
        api,
        clock,
        dep_id="hot",
        enableAddons=False,
        enableHotReloadLatestAddon=True,
        deploymentShape="accounts/fireworks/deploymentShapes/llama-v3p1-8b-instruct-fast",
    )
    assert_rpc_error(api.load(SUPPORT_BOT, "hot"), 9, 400, contains="replaceMergedAddon")
    first = api.load(SUPPORT_BOT, "hot", _params={"replaceMergedAddon": True}).json()
    assert first["state"] == "DEPLOYING"
    second = api.load(FAQ_BOT, "hot", _params={"replaceMergedAddon": True})
    assert second.status_code == 200, second.text
    assert api.get(f"/v1/{first['name']}").json()["state"] == "UNDEPLOYING"
    clock.tick(1.1)
    names = [d["model"] for d in api.get(DM).json()["deployedModels"] if d["model"] != LLAMA]  # not its base row
    assert names == [FAQ_BOT]


def test_fail_pattern_on_model_name(make_api: MakeApi, clock: FakeClock) -> None:
    api = make_api(fail_pattern="faq-bot")
    ready_deployment(api, clock)
    dm = api.load(FAQ_BOT, "base").json()
    clock.tick(1.1)
    data = api.get(f"/v1/{dm['name']}").json()
    assert data["state"] == "STATE_UNSPECIFIED" and data["status"]["code"] == "INTERNAL"


def test_model_refs_on_get(api: Api, clock: FakeClock) -> None:
    ready_deployment(api, clock)
    api.post(
        f"/v1/accounts/{ACCOUNT}/models",
        json={
            "modelId": "mine",
            "model": {"peftDetails": {"baseModel": LLAMA, "r": 8, "targetModules": ["q_proj"]}},
        },
    )
    _finish_upload(api, "mine")
    dm = api.load(f"accounts/{ACCOUNT}/models/mine", "base").json()
    got = api.get(f"/v1/accounts/{ACCOUNT}/models/mine").json()
    assert got["deployedModelRefs"] == [
        {"name": dm["name"], "deployment": dm["deployment"], "state": "DEPLOYING", "default": True}
    ]
    listed = api.get(f"/v1/accounts/{ACCOUNT}/models").json()["models"]
    assert all("deployedModelRefs" not in m for m in listed)


def _finish_upload(api: Api, model_id: str) -> None:
    base = f"/v1/accounts/{ACCOUNT}/models/{model_id}"
    files = {
        "adapter_config.json": b'{"r": 8, "target_modules": ["q_proj"]}',
        "adapter_model.safetensors": b"\0" * 16,
    }
    urls = api.post(
        f"{base}:getUploadEndpoint", json={"filenameToSize": {k: str(len(v)) for k, v in files.items()}}
    ).json()["filenameToSignedUrls"]
    for name, content in files.items():
        assert api.put_file(urls[name], content=content).status_code == 200
    assert api.get(f"{base}:validateUpload").status_code == 200


def test_patch_with_update_mask_clears_masked_fields(api: Api, clock: FakeClock) -> None:
    ready_deployment(api, clock)
    dm = api.load(SUPPORT_BOT, "base", displayName="keep", description="drop").json()
    data = api.patch(
        f"/v1/{dm['name']}", params={"updateMask": "description"}, json={"displayName": "ignored"}
    ).json()
    assert data["displayName"] == "keep" and "description" not in data
    assert_rpc_error(api.patch(f"/v1/{dm['name']}", params={"updateMask": "state"}, json={}), 3, 400)
