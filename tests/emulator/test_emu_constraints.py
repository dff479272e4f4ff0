"""Every deployment-create constraint answers the right gRPC code, HTTP status and error body."""

from __future__ import annotations

from typing import Any

import pytest

from tests.emulator.emukit import ACCOUNT, LLAMA, SQL_HELPER, Api, MakeApi, assert_rpc_error

D = f"/v1/accounts/{ACCOUNT}/deployments"
SHAPE = "accounts/fireworks/deploymentShapes/llama-v3p1-8b-instruct-multi-lora"
FAST = "accounts/fireworks/deploymentShapes/llama-v3p1-8b-instruct-fast"
H100 = "NVIDIA_H100_80GB"

CASES: list[tuple[str, dict[str, Any], dict[str, Any], int, str]] = [
    # (case id, query, body, code, message fragment)
    (
        "bad-id-upper",
        {"deploymentId": "Bad"},
        {"baseModel": LLAMA, "deploymentShape": SHAPE},
        3,
        "invalid deployment ID",
    ),
    (
        "bad-id-dash",
        {"deploymentId": "-x"},
        {"baseModel": LLAMA, "deploymentShape": SHAPE},
        3,
        "invalid deployment ID",
    ),
    (
        "bad-id-long",
        {"deploymentId": "a" * 64},
        {"baseModel": LLAMA, "deploymentShape": SHAPE},
        3,
        "invalid deployment ID",
    ),
    ("missing-base", {"deploymentId": "x"}, {"deploymentShape": SHAPE}, 3, "baseModel is required"),
    (
        "bad-base-name",
        {"deploymentId": "x"},
        {"baseModel": "llama", "deploymentShape": SHAPE},
        3,
        "baseModel",
    ),
    (
        "unknown-base",
        {"deploymentId": "x"},
        {"baseModel": "accounts/fireworks/models/nope", "acceleratorType": H100},
        5,
        "not found",
    ),
    (
        "shape-and-accel",
        {"deploymentId": "x"},
        {"baseModel": LLAMA, "deploymentShape": SHAPE, "acceleratorType": H100},
        3,
        "acceleratorType",
    ),
    ("no-shape-no-accel", {"deploymentId": "x"}, {"baseModel": LLAMA}, 3, "acceleratorType is required"),
    (
        "accel-unspecified",
        {"deploymentId": "x"},
        {"baseModel": LLAMA, "acceleratorType": "ACCELERATOR_TYPE_UNSPECIFIED"},
        3,
        "acceleratorType",
    ),
    (
        "accel-enum",
        {"deploymentId": "x"},
        {"baseModel": LLAMA, "acceleratorType": "NVIDIA_H9000"},
        3,
        "acceleratorType",
    ),
    (
        "precision-enum",
        {"deploymentId": "x"},
        {"baseModel": LLAMA, "acceleratorType": H100, "precision": "FP3"},
        3,
        "precision",
    ),
    (
        "region-enum",
        {"deploymentId": "x"},
        {"baseModel": LLAMA, "acceleratorType": H100, "placement": {"region": "MARS_1"}},
        3,
        "placement.region",
    ),
    (
        "multi-region-enum",
        {"deploymentId": "x"},
        {"baseModel": LLAMA, "acceleratorType": H100, "placement": {"multiRegion": "MOON"}},
        3,
        "multiRegion",
    ),
    (
        "placement-two",
        {"deploymentId": "x"},
        {
            "baseModel": LLAMA,
            "acceleratorType": H100,
            "placement": {"region": "US_IOWA_1", "multiRegion": "US"},
        },
        3,
        "exactly one",
    ),
    (
        "display-name-64",
        {"deploymentId": "x"},
        {"baseModel": LLAMA, "acceleratorType": H100, "displayName": "d" * 64},
        3,
        "fewer than 64",
    ),
    (
        "min-gt-max",
        {"deploymentId": "x"},
        {"baseModel": LLAMA, "acceleratorType": H100, "minReplicaCount": 3, "maxReplicaCount": 2},
        3,
        "must not exceed",
    ),
    (
        "negative-min",
        {"deploymentId": "x"},
        {"baseModel": LLAMA, "acceleratorType": H100, "minReplicaCount": -1},
        3,
        ">= 0",
    ),
    (
        "revocable-lt-max",
        {"deploymentId": "x"},
        {
            "baseModel": LLAMA,
            "acceleratorType": H100,
            "maxReplicaCount": 3,
            "maxWithRevocableReplicaCount": 2,
        },
        3,
        "maxWithRevocable",
    ),
    (
        "scale-up-window",
        {"deploymentId": "x"},
        {"baseModel": LLAMA, "acceleratorType": H100, "autoscalingPolicy": {"scaleUpWindow": "2h"}},
        3,
        "at most 1h",
    ),
    (
        "scale-down-window",
        {"deploymentId": "x"},
        {"baseModel": LLAMA, "acceleratorType": H100, "autoscalingPolicy": {"scaleDownWindow": "3601s"}},
        3,
        "at most 1h",
    ),
    (
        "scale-to-zero-window",
        {"deploymentId": "x"},
        {"baseModel": LLAMA, "acceleratorType": H100, "autoscalingPolicy": {"scaleToZeroWindow": "4m"}},
        3,
        "at least 5m",
    ),
    (
        "bad-duration",
        {"deploymentId": "x"},
        {"baseModel": LLAMA, "acceleratorType": H100, "autoscalingPolicy": {"scaleUpWindow": "soon"}},
        3,
        "invalid duration",
    ),
    (
        "load-target-range",
        {"deploymentId": "x"},
        {"baseModel": LLAMA, "acceleratorType": H100, "autoscalingPolicy": {"loadTargets": {"default": 1.5}}},
        3,
        "0-1",
    ),
    (
        "shapeless-risk-with-shape",
        {"deploymentId": "x", "acceptShapelessRisk": "true"},
        {"baseModel": LLAMA, "deploymentShape": SHAPE},
        3,
        "acceptShapelessRisk",
    ),
    (
        "unknown-shape",
        {"deploymentId": "x"},
        {"baseModel": LLAMA, "deploymentShape": "accounts/fireworks/deploymentShapes/nope"},
        5,
        "not found",
    ),
    (
        "bad-shape-name",
        {"deploymentId": "x"},
        {"baseModel": LLAMA, "deploymentShape": "nope"},
        3,
        "invalid shape name",
    ),
    (
        "unvalidated-version",
        {"deploymentId": "x"},
        {"baseModel": LLAMA, "deploymentShape": SHAPE + "/versions/v3"},
        3,
        "not validated",
    ),
    (
        "shape-base-mismatch",
        {"deploymentId": "x"},
        {"baseModel": "accounts/fireworks/models/qwen2p5-7b-instruct", "deploymentShape": SHAPE},
        3,
        "is for",
    ),
    (
        "addons-on-non-multi-lora-shape",
        {"deploymentId": "x"},
        {"baseModel": LLAMA, "deploymentShape": FAST, "enableAddons": True},
        3,
        "MULTI_LORA",
    ),
    (
        "addons-on-base-without-lora",
        {"deploymentId": "x"},
        {"baseModel": "accounts/fireworks/models/deepseek-v3", "acceleratorType": H100, "enableAddons": True},
        3,
        "does not support LoRA",
    ),
    (
        "live-merge-with-addons",
        {"deploymentId": "x"},
        {"baseModel": SQL_HELPER, "acceleratorType": H100, "enableAddons": True},
        3,
        "live-merge",
    ),
    (
        "wrong-type",
        {"deploymentId": "x"},
        {"baseModel": LLAMA, "acceleratorType": H100, "minReplicaCount": "many"},
        3,
        "integer",
    ),
    (
        "bad-validate-only",
        {"deploymentId": "x", "validateOnly": "maybe"},
        {"baseModel": LLAMA, "acceleratorType": H100},
        3,
        "boolean",
    ),
]


@pytest.mark.parametrize(
    ("query", "body", "code", "fragment"), [c[1:] for c in CASES], ids=[c[0] for c in CASES]
)
def test_create_constraint(
    api: Api, query: dict[str, Any], body: dict[str, Any], code: int, fragment: str
) -> None:
    resp = api.post(D, params=query, json=body)
    assert_rpc_error(resp, code, {3: 400, 5: 404, 9: 400}[code], contains=fragment)
    assert api.get(D).json()["totalSize"] == 0


def test_skip_shape_validation_allows_unvalidated_version(api: Api) -> None:
    resp = api.post(
        D,
        params={"deploymentId": "x", "skipShapeValidation": True},
        json={"baseModel": LLAMA, "deploymentShape": SHAPE + "/versions/v3", "enableAddons": True},
    )
    assert resp.status_code == 200, resp.text
    assert resp.json()["deploymentShape"] == SHAPE + "/versions/v3"


def test_uploading_base_model_is_failed_precondition(api: Api) -> None:
    api.post(
        f"/v1/accounts/{ACCOUNT}/models",
        json={
            "modelId": "my-lora",
            "model": {
                "kind": "HF_PEFT_ADDON",
                "peftDetails": {"baseModel": LLAMA, "r": 8, "targetModules": ["q_proj"]},
            },
        },
    )
    resp = api.post(
        D,
        params={"deploymentId": "x"},
        json={"baseModel": f"accounts/{ACCOUNT}/models/my-lora", "acceleratorType": H100},
    )
    assert_rpc_error(resp, 9, 400, contains="not READY")


def test_auth_required(make_api: MakeApi) -> None:
    anon = make_api(token=None)
    assert_rpc_error(anon.get(D), 16, 401)
    empty = make_api(token="")
    assert_rpc_error(empty.get(D), 16, 401)
    keyed = make_api(token="wrong", api_key="right")
    assert_rpc_error(keyed.get(D), 16, 401, contains="invalid API key")
    good = make_api(token="right", api_key="right")
    assert good.get(D).status_code == 200


def test_unknown_fields_and_sdk_headers_are_accepted(api: Api) -> None:
    headers = {"X-Stainless-Lang": "python", "X-Stainless-Retry-Count": "0", "x-stainless-read-timeout": "60"}
    resp = api.post(
        D,
        params={"deploymentId": "x", "someFutureFlag": "true"},
        headers=headers,
        json={
            "baseModel": LLAMA,
            "deploymentShape": SHAPE,
            "fancyNewField": {"a": 1},
            "hotLoadTrainerJob": "x",
        },
    )
    assert resp.status_code == 200, resp.text
    assert "fancyNewField" not in resp.json() and "hotLoadTrainerJob" not in resp.json()


def test_bad_json_and_unknown_paths(api: Api) -> None:
    resp = api.post(D, content=b"{not json", headers={"content-type": "application/json"})
    assert_rpc_error(resp, 3, 400, contains="JSON")
    assert_rpc_error(api.post(D, json=[1, 2]), 3, 400, contains="object")
    assert_rpc_error(api.get("/v1/accounts/acme/widgets"), 5, 404)
    assert_rpc_error(api.call("PUT", D), 12, 501)


def test_update_mask_unknown_path(api: Api) -> None:
    api.post(D, params={"deploymentId": "x"}, json={"baseModel": LLAMA, "deploymentShape": SHAPE})
    resp = api.patch(f"{D}/x", params={"updateMask": "no_such_field"}, json={"baseModel": LLAMA})
    assert_rpc_error(resp, 3, 400, contains="updateMask")


def test_route_resolution_by_method() -> None:
    """Routes are looked up among the method's own first; a known path with another method is UNIMPLEMENTED."""
    from lorainfra.emulator import routes

    handler, params, known = routes.resolve("GET", D + "/d1")
    assert handler is routes._get_deployment and params == {"account": ACCOUNT, "id": "d1"} and known
    assert routes.resolve("PATCH", D + "/d1:scale")[0] is routes._scale_deployment
    assert routes.resolve("POST", D + "/d1:scale")[0] is routes._scale_deployment
    assert routes.resolve("PUT", D) == (None, {}, True)
    assert routes.resolve("GET", f"/v1/accounts/{ACCOUNT}/nothing") == (None, {}, False)
