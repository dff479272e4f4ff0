"""Official SDK against the served emulator: models, the upload flow and prepare."""

from __future__ import annotations

import json

import fireworks
import httpx
import pytest
from fireworks import Fireworks
from fireworks.types import Model

from tests.contract.sdkkit import ACCOUNT, strict, strict_items

LLAMA = "accounts/fireworks/models/llama-v3p1-8b-instruct"
PEFT = {"base_model": LLAMA, "r": 16, "target_modules": ["q_proj", "v_proj"]}


def upload_files(client: Fireworks, model_id: str, r: int = 8) -> None:
    files = {
        "adapter_config.json": json.dumps({"r": r, "target_modules": ["q_proj"]}).encode(),
        "adapter_model.safetensors": b"\x00" * 256,
    }
    ep = strict(
        client.models.with_raw_response.get_upload_endpoint(
            model_id, filename_to_size={k: str(len(v)) for k, v in files.items()}
        )
    )
    assert ep.filename_to_signed_urls and set(ep.filename_to_signed_urls) == set(files)
    for name, content in files.items():
        resp = httpx.put(
            ep.filename_to_signed_urls[name],
            content=content,
            headers={
                "Content-Type": "application/octet-stream",
                "X-Goog-Content-Length-Range": f"{len(content)},{len(content)}",
            },
        )
        assert resp.status_code == 200, resp.text
    result = strict(client.models.with_raw_response.validate_upload(model_id))
    assert result.warnings is not None


def test_catalog_models(client: Fireworks) -> None:
    public = list(client.models.list(account_id="fireworks", page_size=1))
    assert len(public) >= 5 and len({m.name for m in public}) == len(public)
    raw = client.models.with_raw_response.list(account_id="fireworks").http_response.json()
    strict_items(Model, raw["models"])
    glm = strict(client.models.with_raw_response.get("glm-5p3-flash", account_id="fireworks"))
    assert glm.supports_serverless and glm.base_model_details and glm.base_model_details.parameter_count
    bot = strict(client.models.with_raw_response.get("support-bot-v3", account_id="quickstart"))
    assert bot.kind == "HF_PEFT_ADDON" and bot.peft_details and bot.peft_details.base_model == LLAMA


def test_create_upload_validate_and_use(client: Fireworks) -> None:
    made = strict(
        client.models.with_raw_response.create(
            model_id="my-lora", model={"kind": "HF_PEFT_ADDON", "peft_details": PEFT, "display_name": "Mine"}
        )
    )
    assert made.state == "UPLOADING" and made.name == f"accounts/{ACCOUNT}/models/my-lora"
    upload_files(client, "my-lora", r=16)
    model = strict(client.models.with_raw_response.get("my-lora"))
    assert model.state == "READY"
    down = strict(client.models.with_raw_response.get_download_endpoint("my-lora"))
    assert down.filename_to_signed_urls and "adapter_config.json" in down.filename_to_signed_urls
    assert client.models.prepare("my-lora", precision="FP8") == {}
    updated = strict(client.models.with_raw_response.update("my-lora", description="desc"))
    assert updated.description == "desc" and updated.display_name == "Mine"
    client.deployments.create(
        deployment_id="merged", base_model=str(model.name), accelerator_type="NVIDIA_H100_80GB"
    )
    with pytest.raises(fireworks.BadRequestError) as in_use:
        client.models.delete("my-lora")
    assert in_use.value.body["code"] == 9
    client.deployments.delete("merged", hard=True)
    listed = [m.name for m in client.models.list()]
    assert listed == [f"accounts/{ACCOUNT}/models/my-lora"]


def test_model_errors(client: Fireworks) -> None:
    with pytest.raises(fireworks.BadRequestError):
        client.models.create(model_id="Bad_ID", model={"peft_details": PEFT})
    with pytest.raises(fireworks.BadRequestError):
        client.models.create(model_id="x", model={"peft_details": {**PEFT, "r": 128}})
    client.models.create(model_id="x", model={"peft_details": PEFT})
    with pytest.raises(fireworks.ConflictError):
        client.models.create(model_id="x", model={"peft_details": PEFT})
    with pytest.raises(fireworks.BadRequestError):
        client.models.validate_upload("x")
    with pytest.raises(fireworks.PermissionDeniedError):
        client.models.delete("support-bot-v3", account_id="quickstart")
    assert client.models.delete("x") == {}
    with pytest.raises(fireworks.NotFoundError):
        client.models.get("x")
