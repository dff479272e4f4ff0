"""Official SDK against the served emulator: shapes, auth, error classes and retries under faults."""

from __future__ import annotations

from collections.abc import Callable

import fireworks
import pytest
from fireworks import Fireworks
from fireworks.types import DeploymentShape, DeploymentShapeVersion

from tests.contract.sdkkit import Served, strict, strict_items

LLAMA = "accounts/fireworks/models/llama-v3p1-8b-instruct"


def test_shapes_and_versions(client: Fireworks) -> None:
    shapes = list(client.deployment_shapes.list(page_size=1))
    assert len(shapes) >= 5 and len({s.name for s in shapes}) == len(shapes)
    raw = client.deployment_shapes.with_raw_response.list().http_response.json()
    strict_items(DeploymentShape, raw["deploymentShapes"])
    shape = strict(client.deployment_shapes.with_raw_response.get("llama-v3p1-8b-instruct-multi-lora"))
    assert shape.enable_addons and shape.base_model == LLAMA
    versions = list(client.deployment_shape_versions.list("llama-v3p1-8b-instruct-multi-lora", page_size=1))
    assert [v.latest_validated for v in versions] == [False, True, False]
    every = list(client.deployment_shape_versions.list("-", account_id="-", page_size=200))
    assert len(every) == 3 * len(shapes)
    raw = client.deployment_shape_versions.with_raw_response.list("-", account_id="-").http_response.json()
    strict_items(DeploymentShapeVersion, raw["deploymentShapeVersions"])
    v2 = strict(
        client.deployment_shape_versions.with_raw_response.get(
            "v2", deployment_shape_id="llama-v3p1-8b-instruct-multi-lora"
        )
    )
    assert v2.validated and v2.snapshot and v2.snapshot.base_model == LLAMA


def test_match_and_deploy_the_happy_path(client: Fireworks) -> None:
    match = strict(
        client.deployment_shape_versions.with_raw_response.match(
            create_deployment_request={
                "parent": "accounts/acme",
                "deployment": {"base_model": LLAMA, "enable_addons": True},
            }
        )
    )
    assert match.deployment_shape_versions and all(
        v.snapshot.enable_addons for v in match.deployment_shape_versions
    )
    lora = client.deployment_shape_versions.match_for_model("accounts/quickstart/models/support-bot-v3")
    assert lora.deployment_shape_versions
    shape = match.deployment_shape_versions[0].snapshot
    dep = client.deployments.create(base_model=LLAMA, deployment_shape=str(shape.name), enable_addons=True)
    assert dep.deployment_shape == match.deployment_shape_versions[0].name


@pytest.mark.parametrize(
    ("kwargs", "code"),
    [
        ({"base_model": LLAMA}, 3),  # no shape and no acceleratorType
        ({"base_model": LLAMA, "deployment_shape": "default", "accelerator_type": "NVIDIA_H100_80GB"}, 3),
        ({"base_model": LLAMA, "accelerator_type": "NVIDIA_H100_80GB", "display_name": "x" * 64}, 3),
        (
            {
                "base_model": LLAMA,
                "accelerator_type": "NVIDIA_H100_80GB",
                "min_replica_count": 2,
                "max_replica_count": 1,
            },
            3,
        ),
        (
            {
                "base_model": LLAMA,
                "accelerator_type": "NVIDIA_H100_80GB",
                "autoscaling_policy": {"scale_to_zero_window": "1m"},
            },
            3,
        ),
        (
            {
                "base_model": LLAMA,
                "accelerator_type": "NVIDIA_H100_80GB",
                "placement": {"region": "US_IOWA_1", "regions": ["US_OHIO_1"]},
            },
            3,
        ),
        ({"base_model": LLAMA, "deployment_shape": "default", "accept_shapeless_risk": True}, 3),
        ({"base_model": LLAMA, "deployment_id": "UPPER", "deployment_shape": "default"}, 3),
    ],
)
def test_create_errors_are_bad_request(client: Fireworks, kwargs: dict, code: int) -> None:
    with pytest.raises(fireworks.BadRequestError) as err:
        client.deployments.create(**kwargs)
    assert err.value.status_code == 400 and err.value.body["code"] == code and err.value.body["message"]


def test_not_found_and_conflict(client: Fireworks) -> None:
    with pytest.raises(fireworks.NotFoundError) as missing:
        client.deployments.get("nope")
    assert missing.value.body["code"] == 5
    with pytest.raises(fireworks.NotFoundError):
        client.deployments.create(
            base_model="accounts/fireworks/models/nope", accelerator_type="NVIDIA_H100_80GB"
        )
    client.deployments.create(deployment_id="dup", base_model=LLAMA, deployment_shape="default")
    with pytest.raises(fireworks.ConflictError) as dup:
        client.deployments.create(deployment_id="dup", base_model=LLAMA, deployment_shape="default")
    assert dup.value.body["code"] == 6


def test_sdk_retries_do_not_repeat_already_exists(served: Served) -> None:
    client = served.sdk(max_retries=2)
    client.deployments.create(deployment_id="once", base_model=LLAMA, deployment_shape="default")
    with pytest.raises(fireworks.ConflictError):
        client.deployments.create(deployment_id="once", base_model=LLAMA, deployment_shape="default")
    client.close()


def test_authentication(served: Served) -> None:
    bad = Fireworks(base_url=served.url, api_key="wrong", account_id="acme", max_retries=0)
    with pytest.raises(fireworks.AuthenticationError) as err:
        bad.deployments.list().deployments  # noqa: B018
    assert err.value.body["code"] == 16
    bad.close()


def test_sdk_survives_injected_faults(serve_emulator: Callable[..., Served]) -> None:
    served: Served = serve_emulator(
        fault_rate=0.4, fault_seed=16
    )  # this seed injects no 1 s Retry-After waits
    client = served.sdk(max_retries=6)
    for _ in range(6):
        assert client.deployments.list().deployments == []
    kinds = {k for k, _, _ in served.emulator.faults.injected}
    assert kinds == {"lost_response", "unavailable", "drop"}
    client.close()
