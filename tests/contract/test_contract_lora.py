"""Official SDK against the served emulator: LoRA load/get/list/update/unload and serverless."""

from __future__ import annotations

from collections.abc import Callable

import fireworks
import pytest
from fireworks import Fireworks
from fireworks.types.shared import DeployedModel

from tests.contract.sdkkit import ACCOUNT, Served, strict, strict_items, wait_for

LLAMA = "accounts/fireworks/models/llama-v3p1-8b-instruct"
SHAPE = "accounts/fireworks/deploymentShapes/llama-v3p1-8b-instruct-multi-lora"
BOTS = [
    "accounts/quickstart/models/support-bot-v3",
    "accounts/quickstart/models/faq-bot-v1",
    "accounts/quickstart/models/sql-helper-v2",
]
DEP = f"accounts/{ACCOUNT}/deployments/base"


@pytest.fixture
def base(client: Fireworks) -> str:
    client.deployments.create(
        deployment_id="base", base_model=LLAMA, deployment_shape=SHAPE, enable_addons=True
    )
    wait_for(lambda: client.deployments.get("base"), lambda d: d.state == "READY")
    return DEP


def test_load_poll_update_unload(client: Fireworks, base: str) -> None:
    dm = strict(client.lora.with_raw_response.load(model=BOTS[0], deployment=base, display_name="Support"))
    assert dm.state == "DEPLOYING" and dm.default is True and dm.deployment == base
    dm_id = dm.name.rsplit("/", 1)[1]
    ready = wait_for(
        lambda: strict(client.lora.with_raw_response.get(dm_id)), lambda d: d.state == "DEPLOYED"
    )
    assert ready.display_name == "Support"
    updated = strict(client.lora.with_raw_response.update(dm_id, description="new"))
    assert updated.state == "UPDATING" and updated.description == "new"
    wait_for(lambda: client.lora.get(dm_id), lambda d: d.state == "DEPLOYED")
    assert client.lora.unload(dm_id) == {}
    assert client.lora.get(dm_id).state == "UNDEPLOYING"

    def gone() -> bool:
        try:
            client.lora.get(dm_id)
        except fireworks.NotFoundError:
            return True
        return False

    wait_for(gone, bool)


def test_list_paginates_and_filters(client: Fireworks, base: str) -> None:
    for bot in BOTS:
        client.lora.load(model=bot, deployment=base)
    client.lora.load(model="accounts/quickstart/models/summarizer-v1", serverless=True)
    all_names = [d.name for d in client.lora.list(page_size=1)]
    # 3 loaded on base, 1 serverless, and the base model's own row on base (auto-deployed at create)
    assert len(all_names) == len(set(all_names)) == 5 and all_names == sorted(all_names)
    on_base = list(client.lora.list(filter=f'deployment="{base}"', page_size=2))
    assert sorted(d.model for d in on_base if d.model in BOTS) == sorted(BOTS) and len(on_base) == len(BOTS) + 1
    serverless = list(client.lora.list(filter="serverless=true"))
    assert [d.serverless for d in serverless] == [True]
    by_model = list(client.lora.list(filter=f'model="{BOTS[1]}"'))
    assert [d.model for d in by_model] == [BOTS[1]]
    raw = client.lora.with_raw_response.list(page_size=200).http_response.json()
    strict_items(DeployedModel, raw["deployedModels"])


def test_load_errors(client: Fireworks, base: str) -> None:
    client.lora.load(model=BOTS[0], deployment=base)
    with pytest.raises(fireworks.ConflictError) as dup:
        client.lora.load(model=BOTS[0], deployment=base)
    assert dup.value.body["code"] == 6
    with pytest.raises(fireworks.BadRequestError) as both:
        client.lora.load(model=BOTS[1], deployment=base, serverless=True)
    assert both.value.body["code"] == 3
    with pytest.raises(fireworks.NotFoundError):
        client.lora.load(model="accounts/quickstart/models/missing", deployment=base)
    with pytest.raises(fireworks.BadRequestError) as mismatch:
        client.lora.load(model="accounts/quickstart/models/summarizer-v1", deployment=base)
    assert "does not match" in mismatch.value.body["message"]


def test_load_during_unload_is_aborted(serve_emulator: Callable[..., Served]) -> None:
    served = serve_emulator(delete_after=600)  # the unload stays in progress until the clock is advanced
    client = served.sdk(max_retries=0)
    client.deployments.create(
        deployment_id="base", base_model=LLAMA, deployment_shape=SHAPE, enable_addons=True
    )
    wait_for(lambda: client.deployments.get("base"), lambda d: d.state == "READY")
    dm = client.lora.load(model=BOTS[0], deployment=DEP)
    client.lora.unload(str(dm.name).rsplit("/", 1)[1])
    with pytest.raises(fireworks.ConflictError) as err:
        client.lora.load(model=BOTS[0], deployment=DEP)
    assert err.value.body["code"] == 10
    served.emulator.advance(601)
    assert client.lora.load(model=BOTS[0], deployment=DEP).state == "DEPLOYING"
    client.close()


def test_addons_disabled_is_failed_precondition(client: Fireworks) -> None:
    client.deployments.create(
        deployment_id="plain",
        base_model=LLAMA,
        deployment_shape="accounts/fireworks/deploymentShapes/llama-v3p1-8b-instruct-fast",
    )
    with pytest.raises(fireworks.BadRequestError) as early:
        client.lora.load(model=BOTS[0], deployment=f"accounts/{ACCOUNT}/deployments/plain")
    assert early.value.body["code"] == 9 and "not READY" in early.value.body["message"]
    wait_for(lambda: client.deployments.get("plain"), lambda d: d.state == "READY")
    with pytest.raises(fireworks.BadRequestError) as err:
        client.lora.load(model=BOTS[0], deployment=f"accounts/{ACCOUNT}/deployments/plain")
    assert err.value.body["code"] == 9 and "enableAddons" in err.value.body["message"]


def test_serverless_limit_is_rate_limit_error(serve_emulator: Callable[..., Served]) -> None:
    served: Served = serve_emulator(serverless_limit=1)
    client = served.sdk(max_retries=0)
    client.lora.load(model="accounts/quickstart/models/summarizer-v1", serverless=True)
    client.models.create(
        model_id="glm-lora",
        model={
            "kind": "HF_PEFT_ADDON",
            "peft_details": {
                "base_model": "accounts/fireworks/models/glm-5p3-flash",
                "r": 8,
                "target_modules": ["q_proj"],
            },
        },
    )
    from tests.contract.test_contract_models import upload_files

    upload_files(client, "glm-lora")
    with pytest.raises(fireworks.RateLimitError) as err:
        client.lora.load(model=f"accounts/{ACCOUNT}/models/glm-lora", serverless=True)
    assert err.value.body["code"] == 8
    assert err.value.response.headers["x-should-retry"] == "false"
    client.close()
