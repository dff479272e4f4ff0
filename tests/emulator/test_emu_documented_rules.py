"""Deployment rules from current public sources (issue 10 items 3, 4, 7 and 10)."""

from __future__ import annotations

import pytest

from tests.emulator.emukit import (
    ACCOUNT,
    FAQ_BOT,
    LLAMA,
    SUPPORT_BOT,
    Api,
    FakeClock,
    assert_rpc_error,
    ready_deployment,
)

D = f"/v1/accounts/{ACCOUNT}/deployments"
SHAPELESS = {"deploymentShape": None, "acceleratorType": "NVIDIA_H100_80GB"}


def test_accelerator_type_cannot_change_on_an_existing_deployment(api: Api, clock: FakeClock) -> None:
    ready_deployment(api, clock, **SHAPELESS)
    for params in ({"updateMask": "accelerator_type"}, {}):
        resp = api.patch(
            f"{D}/base",
            params=params,
            json={"baseModel": LLAMA, "acceleratorType": "NVIDIA_H200_141GB", "enableAddons": True},
        )
        body = assert_rpc_error(resp, 3, 400, contains="acceleratorType cannot be changed")
        assert body["details"][0]["reason"] == "IMMUTABLE_FIELD"
    assert api.deployment("base").json()["acceleratorType"] == "NVIDIA_H100_80GB"
    # Sending the same type back (a full-body update) is not a change.
    same = api.patch(
        f"{D}/base",
        json={
            "baseModel": LLAMA,
            "acceleratorType": "NVIDIA_H100_80GB",
            "enableAddons": True,
            "displayName": "x",
        },
    )
    assert same.status_code == 200, same.text


def test_enable_addons_updates_in_place_and_turning_it_off_unloads_the_loras(
    api: Api, clock: FakeClock
) -> None:
    ready_deployment(api, clock)
    loras = [api.load(m, "base").json() for m in (SUPPORT_BOT, FAQ_BOT)]
    clock.tick(1.1)
    resp = api.patch(f"{D}/base", params={"updateMask": "enable_addons"}, json={"enableAddons": False})
    assert resp.status_code == 200, resp.text
    assert resp.json()["state"] == "UPDATING" and "enableAddons" not in {
        k for k, v in resp.json().items() if v
    }
    assert [api.get(f"/v1/{dm['name']}").json()["state"] for dm in loras] == ["UNDEPLOYING", "UNDEPLOYING"]
    clock.tick(2.1)
    assert api.deployment("base").json()["state"] == "READY"
    left = api.get(f"/v1/accounts/{ACCOUNT}/deployedModels").json()["deployedModels"]
    assert [d["model"] for d in left] == [LLAMA]  # the base model's own row stays (auto_deploy_base)
    on = api.patch(f"{D}/base", params={"updateMask": "enable_addons"}, json={"enableAddons": True})
    assert on.json()["enableAddons"] is True and on.json()["state"] == "UPDATING"


@pytest.mark.parametrize(
    ("field", "value"),
    [("acceleratorType", "NVIDIA_H100_80GB"), ("acceleratorCount", 2), ("precision", "FP8")],
)
def test_with_a_shape_hardware_fields_are_errors(
    api: Api, clock: FakeClock, field: str, value: object
) -> None:
    body = assert_rpc_error(
        api.create_deployment("shaped", **{field: value}), 3, 400, contains="deploymentShape"
    )
    assert body["details"][0]["metadata"]["field"] == field
    ready_deployment(api, clock)
    resp = api.patch(f"{D}/base", params={"updateMask": field}, json={field: value})
    assert_rpc_error(resp, 3, 400, contains="deploymentShape")


def test_update_mask_top_level_paths_take_the_whole_sub_object(api: Api, clock: FakeClock) -> None:
    # Fireworks' own clients send `autoscaling_policy` / `placement` with the whole merged object.
    ready_deployment(
        api,
        clock,
        autoscalingPolicy={"scaleUpWindow": "60s", "scaleDownWindow": "300s"},
        placement={"region": "US_IOWA_1"},
    )
    resp = api.patch(
        f"{D}/base",
        params={"updateMask": "autoscaling_policy,placement"},
        json={
            "autoscaling_policy": {
                "scale_up_window": "60s",
                "scale_down_window": "900s",
                "scale_to_zero_window": "2h",
                "load_targets": {"default": 0.5},
            },
            "placement": {"multi_region": "EUROPE"},
        },
    )
    data = resp.json()
    assert resp.status_code == 200, data
    assert data["autoscalingPolicy"] == {
        "scaleUpWindow": "60s",
        "scaleDownWindow": "900s",
        "scaleToZeroWindow": "7200s",
        "loadTargets": {"default": 0.5},
    }
    assert data["placement"] == {"multiRegion": "EUROPE"} and data["region"] == "EU_FRANKFURT_1"
    # A top-level path whose object is absent from the body returns it to the server default.
    cleared = api.patch(f"{D}/base", params={"updateMask": "autoscaling_policy"}, json={}).json()
    assert cleared["autoscalingPolicy"] == {
        "scaleUpWindow": "30s",
        "scaleDownWindow": "600s",
        "scaleToZeroWindow": "3600s",
    }


@pytest.mark.parametrize("accelerator", ["NVIDIA_B300_288GB", "NVIDIA_B200_180GB", "AMD_MI350X_288GB"])
def test_current_accelerator_types_are_known(api: Api, accelerator: str) -> None:
    resp = api.create_deployment("gpu", deploymentShape=None, acceleratorType=accelerator)
    assert resp.status_code == 200, resp.text
    assert resp.json()["acceleratorType"] == accelerator
