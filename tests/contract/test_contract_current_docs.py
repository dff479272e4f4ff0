"""Issue 10 rules as the official SDK (fireworks-ai 1.2.30) sees them against the served emulator."""

from __future__ import annotations

from collections.abc import Callable

import fireworks
import pytest
from fireworks import Fireworks
from fireworks.types.shared import DeployedModel

from tests.contract.sdkkit import ACCOUNT, Served, strict, strict_items, wait_for

LLAMA = "accounts/fireworks/models/llama-v3p1-8b-instruct"
SHAPE = "accounts/fireworks/deploymentShapes/llama-v3p1-8b-instruct-multi-lora"
BOT = "accounts/quickstart/models/support-bot-v3"


def _ready(client: Fireworks, dep_id: str, **kwargs: object) -> None:
    params = {"base_model": LLAMA, "deployment_shape": SHAPE, "enable_addons": True, **kwargs}
    client.deployments.create(deployment_id=dep_id, **params)  # type: ignore[arg-type]
    wait_for(lambda: client.deployments.get(dep_id), lambda d: d.state == "READY")


def test_accelerator_type_change_is_bad_request(client: Fireworks) -> None:
    _ready(client, "gpu", deployment_shape=None, accelerator_type="NVIDIA_H100_80GB")
    with pytest.raises(fireworks.BadRequestError) as err:
        client.deployments.update(
            "gpu", base_model=LLAMA, accelerator_type="NVIDIA_H200_141GB", enable_addons=True
        )
    assert err.value.body["code"] == 3 and "acceleratorType cannot be changed" in err.value.body["message"]


@pytest.mark.parametrize("kwargs", [{"accelerator_count": 2}, {"precision": "FP8"}])
def test_shape_with_hardware_fields_is_bad_request(client: Fireworks, kwargs: dict) -> None:
    with pytest.raises(fireworks.BadRequestError) as err:
        client.deployments.create(base_model=LLAMA, deployment_shape=SHAPE, **kwargs)
    assert err.value.body["code"] == 3 and "deploymentShape" in err.value.body["message"]


def test_force_delete_with_ignore_checks(client: Fireworks) -> None:
    _ready(client, "busy")
    client.lora.load(model=BOT, deployment=f"accounts/{ACCOUNT}/deployments/busy")
    with pytest.raises(fireworks.BadRequestError) as err:
        client.deployments.delete("busy")
    assert "ignoreChecks" in err.value.body["message"]
    assert client.deployments.delete("busy", ignore_checks=True) == {}
    wait_for(lambda: client.deployments.get("busy"), lambda d: d.state == "DELETED")
    with pytest.raises(fireworks.ConflictError):  # the soft-deleted ID stays reserved
        client.deployments.create(deployment_id="busy", base_model=LLAMA, deployment_shape=SHAPE)


def test_base_model_rows_parse_as_deployed_models(serve_emulator: Callable[..., Served]) -> None:
    client = serve_emulator(auto_deploy_base=True).sdk(max_retries=0)
    _ready(client, "base")
    raw = client.lora.with_raw_response.list()
    (row,) = strict_items(DeployedModel, raw.http_response.json()["deployedModels"])
    assert row.model == LLAMA and row.deployment == f"accounts/{ACCOUNT}/deployments/base"
    assert strict(client.lora.with_raw_response.get(row.name.rsplit("/", 1)[1])).state in (
        "DEPLOYING",
        "DEPLOYED",
    )


def test_rate_limit_is_retried_by_the_sdk_after_retry_after(serve_emulator: Callable[..., Served]) -> None:
    served = serve_emulator(max_rps=1)
    no_retry = served.sdk(max_retries=0)
    with pytest.raises(fireworks.RateLimitError) as err:
        for _ in range(10):  # two of them fall within one second
            no_retry.deployments.list()
    assert err.value.body["code"] == 8 and int(err.value.response.headers["retry-after"]) >= 1
    # The SDK honours Retry-After (<= 60 s) and then gets through.
    assert served.sdk(max_retries=2).deployments.list().deployments == []
