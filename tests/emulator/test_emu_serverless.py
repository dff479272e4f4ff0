"""Serverless LoRAs (issue 10 item 2): which bases, the per-base and account limits, the idle unload."""

from __future__ import annotations

from tests.emulator.emukit import (
    ACCOUNT,
    FAQ_BOT,
    GLM,
    LLAMA,
    SUMMARIZER,
    SUPPORT_BOT,
    Api,
    FakeClock,
    MakeApi,
    assert_rpc_error,
)

DM = f"/v1/accounts/{ACCOUNT}/deployedModels"


def glm_lora(api: Api, model_id: str) -> str:
    """A READY LoRA on glm-5p3-flash (the one documented serverless base) in the test account."""
    base = f"/v1/accounts/{ACCOUNT}/models/{model_id}"
    created = api.post(
        f"/v1/accounts/{ACCOUNT}/models",
        json={
            "modelId": model_id,
            "model": {"peftDetails": {"baseModel": GLM, "r": 8, "targetModules": ["q_proj"]}},
        },
    )
    assert created.status_code == 200, created.text
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
    return f"accounts/{ACCOUNT}/models/{model_id}"


def test_at_most_three_serverless_loras_per_base_model(api: Api) -> None:
    models = [SUMMARIZER, glm_lora(api, "g1"), glm_lora(api, "g2"), glm_lora(api, "g3")]
    for model in models[:3]:
        assert api.load(model, serverless=True).status_code == 200
    fourth = api.load(models[3], serverless=True)
    body = assert_rpc_error(fourth, 8, 429, contains="at most 3 serverless LoRAs per base model")
    assert body["details"][0]["reason"] == "SERVERLESS_LORA_LIMIT"
    # A quota, not a rate: retrying does not help, so no Retry-After and the SDK must not retry.
    assert fourth.headers["x-should-retry"] == "false" and "retry-after" not in fourth.headers


def test_per_base_limit_is_an_option_and_unloading_frees_a_slot(make_api: MakeApi) -> None:
    api = make_api(serverless_per_base_limit=1)
    first = api.load(SUMMARIZER, serverless=True).json()
    other = glm_lora(api, "g1")
    assert_rpc_error(api.load(other, serverless=True), 8, 429, contains="at most 1 serverless")
    assert api.delete(f"/v1/{first['name']}").status_code == 200  # UNDEPLOYING no longer counts
    assert api.load(other, serverless=True).status_code == 200


def test_account_wide_limit_counts_every_base(make_api: MakeApi) -> None:
    api = make_api(serverless_limit=2, serverless_lora_bases=(GLM, LLAMA))
    assert api.load(SUMMARIZER, serverless=True).status_code == 200
    assert api.load(SUPPORT_BOT, serverless=True).status_code == 200
    body = assert_rpc_error(api.load(FAQ_BOT, serverless=True), 8, 429, contains="at most 2 serverless LoRAs")
    assert "account" in body["message"]


def test_supports_serverless_is_not_what_admits_serverless_loras(make_api: MakeApi) -> None:
    # llama 8B has supportsServerless=false in the catalog; listing it as a serverless-LoRA base is what counts.
    llama = make_api().get(f"/v1/{LLAMA}").json()
    assert llama["supportsServerless"] is False
    api = make_api(serverless_lora_bases=(LLAMA,))
    assert api.load(SUPPORT_BOT, serverless=True).status_code == 200
    assert_rpc_error(api.load(SUMMARIZER, serverless=True), 3, 400, contains="dedicated deployment")


def test_default_bases_are_the_documented_one(api: Api) -> None:
    assert api.load(SUMMARIZER, serverless=True).status_code == 200
    assert_rpc_error(api.load(SUPPORT_BOT, serverless=True), 3, 400, contains=GLM)


def test_idle_unload_can_be_turned_off(make_api: MakeApi, clock: FakeClock) -> None:
    api = make_api(serverless_idle_unload_after=None)
    dm = api.load(SUMMARIZER, serverless=True).json()
    api.emu.advance(30 * 86400)
    assert api.get(f"/v1/{dm['name']}").json()["state"] == "DEPLOYED"
