"""The base model's own deployedModels row on a new deployment (issue 10 item 8; option auto_deploy_base)."""

from __future__ import annotations

from tests.emulator.emukit import (
    ACCOUNT,
    LLAMA,
    SQL_HELPER,
    SUPPORT_BOT,
    Api,
    FakeClock,
    MakeApi,
    ready_deployment,
)

D = f"/v1/accounts/{ACCOUNT}/deployments"
DM = f"/v1/accounts/{ACCOUNT}/deployedModels"


def rows(api: Api) -> list[dict]:
    return list(api.get(DM).json()["deployedModels"])


def test_on_by_default_and_off_with_the_option(api: Api, make_api: MakeApi, clock: FakeClock) -> None:
    # on by default since lorainfra's provider leaves such rows out of a refresh (issue 10 item 8)
    ready_deployment(api, clock)
    assert [r["model"] for r in rows(api)] == [LLAMA]
    off = make_api(auto_deploy_base=False)  # same database
    ready_deployment(off, clock, dep_id="other")
    assert [r["deployment"].rsplit("/", 1)[1] for r in rows(off)] == ["base"]  # none for "other"


def test_create_deploys_the_base_model_as_a_non_lora_row(make_api: MakeApi, clock: FakeClock) -> None:
    api = make_api(auto_deploy_base=True)
    created = api.create_deployment("base").json()
    (base,) = rows(api)
    assert base["model"] == LLAMA and base["deployment"] == created["name"] and base["serverless"] is False
    assert base["state"] == "DEPLOYING"
    clock.tick(api.emu.options.ready_after + 0.01)
    assert rows(api)[0]["state"] == "DEPLOYED"
    api.load(SUPPORT_BOT, "base")
    assert sorted(r["model"] for r in rows(api)) == sorted([LLAMA, SUPPORT_BOT])


def test_base_row_is_not_a_loaded_lora(make_api: MakeApi, clock: FakeClock) -> None:
    api = make_api(auto_deploy_base=True)
    ready_deployment(api, clock)
    # enableAddons off unloads LoRAs only; the base copy stays.
    api.patch(f"{D}/base", params={"updateMask": "enable_addons"}, json={"enableAddons": False})
    assert [r["state"] for r in rows(api)] == ["DEPLOYED"]
    # A deployment holding only its base copy is not "in use": delete needs no ignoreChecks.
    assert api.delete(f"{D}/base").status_code == 200
    clock.tick(1)
    assert rows(api) == []


def test_disable_auto_deploy_and_live_merge_get_no_row(make_api: MakeApi, clock: FakeClock) -> None:
    api = make_api(auto_deploy_base=True)
    api.create_deployment("quiet", _params={"disableAutoDeploy": True})
    api.create_deployment("merged", baseModel=SQL_HELPER, enableAddons=False, deploymentShape="default")
    assert rows(api) == []
