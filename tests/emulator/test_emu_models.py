"""Models: catalog, create, upload flow (signed URLs, validateUpload), download, prepare, update, delete."""

from __future__ import annotations

import json

from tests.emulator.emukit import (
    ACCOUNT,
    GLM,
    LLAMA,
    SUPPORT_BOT,
    Api,
    FakeClock,
    MakeApi,
    assert_rpc_error,
    ready_deployment,
)

M = f"/v1/accounts/{ACCOUNT}/models"
LORA = {
    "kind": "HF_PEFT_ADDON",
    "peftDetails": {"baseModel": LLAMA, "r": 16, "targetModules": ["q_proj", "v_proj"]},
}


def test_catalog(api: Api) -> None:
    public = api.get("/v1/accounts/fireworks/models").json()
    names = [m["name"].rsplit("/", 1)[1] for m in public["models"]]
    assert names == sorted(names) and public["totalSize"] == len(names) >= 5
    glm = api.get(f"/v1/{GLM}").json()
    assert (
        glm["supportsServerless"] is True and glm["supportsLora"] is True and glm["kind"] == "HF_BASE_MODEL"
    )
    assert glm["baseModelDetails"]["parameterCount"].isdigit()
    assert any(not m.get("supportsLora") for m in public["models"])
    quick = api.get("/v1/accounts/quickstart/models").json()["models"]
    assert {m["name"] for m in quick} >= {SUPPORT_BOT, "accounts/quickstart/models/sql-helper-v2"}
    assert all(m["kind"] == "HF_PEFT_ADDON" and m["state"] == "READY" for m in quick)
    assert api.get(M).json() == {"models": [], "nextPageToken": "", "totalSize": 0}


def test_seed_models(make_api: MakeApi) -> None:
    seeded = make_api(
        seed_models=(
            {
                "name": "accounts/acme/models/seeded",
                "peftDetails": {"baseModel": LLAMA, "r": 8, "targetModules": ["q_proj"]},
            },
        )
    )
    data = seeded.get(f"{M}/seeded").json()
    assert data["state"] == "READY" and data["kind"] == "HF_PEFT_ADDON"


def test_create_upload_validate_download(api: Api) -> None:
    resp = api.post(M, json={"modelId": "my-lora", "model": {**LORA, "displayName": "Mine"}})
    data = resp.json()
    assert resp.status_code == 200, data
    assert data["state"] == "UPLOADING" and data["name"] == f"accounts/{ACCOUNT}/models/my-lora"
    assert data["peftDetails"]["baseModelType"] == "llama"
    assert_rpc_error(api.get(f"{M}/my-lora:validateUpload"), 9, 400, contains="getUploadEndpoint")
    config = json.dumps({"r": 16, "target_modules": ["q_proj", "v_proj"]}).encode()
    files = {"adapter_config.json": config, "adapter_model.safetensors": b"w" * 100}
    ep = api.post(
        f"{M}/my-lora:getUploadEndpoint", json={"filenameToSize": {k: str(len(v)) for k, v in files.items()}}
    )
    urls = ep.json()["filenameToSignedUrls"]
    assert set(urls) == set(files) and set(ep.json()["filenameToUnsignedUris"]) == set(files)
    assert api.put_file(urls["adapter_config.json"], content=config).status_code == 200
    assert_rpc_error(api.get(f"{M}/my-lora:validateUpload"), 9, 400, contains="not uploaded")
    bad_sig = urls["adapter_model.safetensors"].replace("signature=", "signature=0")
    assert api.put_file(bad_sig, content=files["adapter_model.safetensors"]).status_code == 403
    assert api.put_file(urls["adapter_model.safetensors"], content=b"short").status_code == 400
    assert (
        api.put_file(urls["adapter_model.safetensors"], content=files["adapter_model.safetensors"]
        ).status_code
        == 200
    )
    result = api.get(f"{M}/my-lora:validateUpload")
    assert result.status_code == 200 and result.json() == {"warnings": []}
    assert api.get(f"{M}/my-lora").json()["state"] == "READY"
    down = api.get(f"{M}/my-lora:getDownloadEndpoint").json()["filenameToSignedUrls"]
    assert api.get(down["adapter_config.json"]).content == config
    assert_rpc_error(api.post(f"{M}/my-lora:getUploadEndpoint", json={"filenameToSize": {"a": "1"}}), 9, 400)


def test_validate_upload_checks_adapter_files(api: Api) -> None:
    api.post(M, json={"modelId": "no-weights", "model": LORA})
    ep = api.post(
        f"{M}/no-weights:getUploadEndpoint", json={"filenameToSize": {"adapter_config.json": "2"}}
    ).json()
    api.put_file(ep["filenameToSignedUrls"]["adapter_config.json"], content=b"{}")
    assert_rpc_error(api.get(f"{M}/no-weights:validateUpload"), 3, 400, contains="safetensors")
    api.post(M, json={"modelId": "bad-rank", "model": LORA})
    cfg = b'{"r": 128, "target_modules": ["q_proj"]}'
    ep = api.post(
        f"{M}/bad-rank:getUploadEndpoint",
        json={"filenameToSize": {"adapter_config.json": str(len(cfg)), "adapter_model.bin": "1"}},
    ).json()
    api.put_file(ep["filenameToSignedUrls"]["adapter_config.json"], content=cfg)
    api.put_file(ep["filenameToSignedUrls"]["adapter_model.bin"], content=b"x")
    assert_rpc_error(api.get(f"{M}/bad-rank:validateUpload"), 3, 400, contains="4-64")


def test_create_constraints(api: Api) -> None:
    assert_rpc_error(
        api.post(M, json={"modelId": "Bad_Id", "model": LORA}), 3, 400, contains="invalid model ID"
    )
    assert_rpc_error(api.post(M, json={"model": LORA}), 3, 400)
    assert_rpc_error(
        api.post(M, json={"modelId": "x", "model": {}}), 3, 400, contains="peftDetails is required"
    )
    bad_r = {"peftDetails": {**LORA["peftDetails"], "r": 2}}
    assert_rpc_error(api.post(M, json={"modelId": "x", "model": bad_r}), 3, 400, contains=">= 4")
    bad_mod = {"peftDetails": {**LORA["peftDetails"], "targetModules": ["lm_head"]}}
    assert_rpc_error(api.post(M, json={"modelId": "x", "model": bad_mod}), 3, 400, contains="lm_head")
    no_lora = {"peftDetails": {**LORA["peftDetails"], "baseModel": "accounts/fireworks/models/deepseek-v3"}}
    assert_rpc_error(
        api.post(M, json={"modelId": "x", "model": no_lora}), 3, 400, contains="does not support LoRA"
    )
    missing = {"peftDetails": {**LORA["peftDetails"], "baseModel": "accounts/fireworks/models/nope"}}
    assert_rpc_error(api.post(M, json={"modelId": "x", "model": missing}), 5, 404)
    assert_rpc_error(
        api.post(M, json={"modelId": "x", "model": {"kind": "HF_BASE_MODEL"}}),
        3,
        400,
        contains="baseModelDetails is required",
    )
    assert_rpc_error(api.post(M, json={"modelId": "x", "model": {**LORA, "displayName": "n" * 64}}), 3, 400)
    assert_rpc_error(api.post(M, json={"modelId": "x", "model": {**LORA, "description": "n" * 1000}}), 3, 400)
    assert_rpc_error(api.post(M, json={"modelId": "x", "model": {**LORA, "kind": "NOPE"}}), 3, 400)
    assert api.post(M, json={"modelId": "x", "model": LORA}).status_code == 200
    dup = api.post(M, json={"modelId": "x", "model": LORA})
    assert_rpc_error(dup, 6, 409)
    assert dup.headers["x-should-retry"] == "false"
    base = api.post(
        M,
        json={
            "modelId": "my-base",
            "model": {"kind": "HF_BASE_MODEL", "baseModelDetails": {"parameterCount": 7}},
        },
    )
    assert base.json()["baseModelDetails"] == {"parameterCount": "7", "worldSize": 1}


def test_update_and_delete(api: Api, clock: FakeClock) -> None:
    api.post(M, json={"modelId": "m", "model": {**LORA, "description": "d"}})
    data = api.patch(f"{M}/m", json={"displayName": "New"}).json()
    assert data["displayName"] == "New" and data["description"] == "d"
    data = api.patch(f"{M}/m", params={"updateMask": "description"}, json={}).json()
    assert "description" not in data and data["displayName"] == "New"
    assert_rpc_error(api.patch(f"{M}/m", json={"kind": "HF_BASE_MODEL"}), 3, 400)
    assert_rpc_error(api.patch(f"/v1/{SUPPORT_BOT}", json={"displayName": "x"}), 7, 403)
    assert_rpc_error(api.delete(f"/v1/{SUPPORT_BOT}"), 7, 403)
    ready_deployment(api, clock)
    api.load(SUPPORT_BOT, "base")
    assert api.delete(f"{M}/m").json() == {}
    assert_rpc_error(api.get(f"{M}/m"), 5, 404)
    assert_rpc_error(api.delete(f"{M}/m"), 5, 404)


def test_prepare(api: Api) -> None:
    assert api.post(f"/v1/{LLAMA}:prepare", json={"precision": "FP8"}).json() == {}
    assert_rpc_error(api.post(f"/v1/{LLAMA}:prepare", json={"precision": "FP3"}), 3, 400)
    api.post(M, json={"modelId": "m", "model": LORA})
    assert_rpc_error(api.post(f"{M}/m:prepare", json={"precision": "FP8"}), 9, 400)


def test_model_in_use_cannot_be_deleted(api: Api, clock: FakeClock) -> None:
    api.post(M, json={"modelId": "mine", "model": LORA})
    from tests.emulator.test_emu_deployed_models import _finish_upload

    _finish_upload(api, "mine")
    ready_deployment(api, clock)
    api.load(f"accounts/{ACCOUNT}/models/mine", "base")
    assert_rpc_error(api.delete(f"{M}/mine"), 9, 400, contains="in use")
