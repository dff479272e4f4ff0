"""Official SDK against the served emulator: deployments end to end."""

from __future__ import annotations

from collections.abc import Callable

import fireworks
import pytest
from fireworks import Fireworks
from fireworks.types import Deployment

from tests.contract.sdkkit import ACCOUNT, Served, strict, strict_items, wait_for

LLAMA = "accounts/fireworks/models/llama-v3p1-8b-instruct"
SHAPE = "accounts/fireworks/deploymentShapes/llama-v3p1-8b-instruct-multi-lora"


def _create(client: Fireworks, dep_id: str, **kwargs: object) -> Deployment:
    params = {"base_model": LLAMA, "deployment_shape": SHAPE, "enable_addons": True, **kwargs}
    return strict(client.deployments.with_raw_response.create(deployment_id=dep_id, **params))


def test_create_poll_ready_get(client: Fireworks) -> None:
    dep = _create(
        client,
        "base",
        min_replica_count=1,
        max_replica_count=2,
        display_name="Base",
        autoscaling_policy={"scale_up_window": "1m", "load_targets": {"default": 0.7}},
        placement={"multi_region": "US"},
    )
    assert dep.state == "CREATING" and dep.name == f"accounts/{ACCOUNT}/deployments/base"
    assert dep.autoscaling_policy and dep.autoscaling_policy.scale_up_window == "60s"
    assert dep.create_time is not None and dep.create_time.tzinfo is not None
    ready = wait_for(
        lambda: strict(client.deployments.with_raw_response.get("base")), lambda d: d.state == "READY"
    )
    assert ready.replica_count == 1 and ready.status and ready.status.code == "OK"
    assert ready.deployment_shape and ready.deployment_shape.startswith(SHAPE + "/versions/")
    assert ready.placement and ready.placement.multi_region == "US" and ready.region == "US_IOWA_1"


def test_validate_only_and_generated_id(client: Fireworks) -> None:
    dry = _create(client, "dry", validate_only=True)
    assert dry.name and dry.name.endswith("/dry")
    with pytest.raises(fireworks.NotFoundError):
        client.deployments.get("dry")
    made = strict(client.deployments.with_raw_response.create(base_model=LLAMA, deployment_shape="default"))
    assert made.name and made.name.startswith(f"accounts/{ACCOUNT}/deployments/")


def test_auto_pagination_sees_every_item_once(serve_emulator: Callable[..., Served]) -> None:
    client = serve_emulator(ready_after=600).sdk(max_retries=0)  # stays CREATING for the state filter
    for i in range(7):
        _create(client, f"d{i}")
    page = client.deployments.list(page_size=1)
    assert len(page.deployments) == 1 and page.next_page_token
    names = [d.name for d in client.deployments.list(page_size=1)]
    assert names == [f"accounts/{ACCOUNT}/deployments/d{i}" for i in range(7)]
    desc = [d.name for d in client.deployments.list(page_size=2, order_by="createTime desc")]
    assert desc == names[::-1]
    raw = client.deployments.with_raw_response.list(page_size=3).http_response.json()
    assert raw["totalSize"] == 7
    strict_items(Deployment, raw["deployments"])
    assert [d.name for d in client.deployments.list(filter="state=CREATING", page_size=200)] == names
    client.close()


def test_update_full_and_masked_then_scale(client: Fireworks) -> None:
    _create(client, "upd", min_replica_count=1, max_replica_count=3, display_name="one", description="keep")
    wait_for(lambda: client.deployments.get("upd"), lambda d: d.state == "READY")
    masked = strict(
        client.deployments.with_raw_response.update(
            "upd", base_model=LLAMA, display_name="two", extra_query={"updateMask": "display_name"}
        )
    )
    assert masked.display_name == "two" and masked.description == "keep" and masked.state == "UPDATING"
    wait_for(lambda: client.deployments.get("upd"), lambda d: d.state == "READY")
    full = strict(
        client.deployments.with_raw_response.update(
            "upd",
            base_model=LLAMA,
            deployment_shape=SHAPE,
            enable_addons=True,
            min_replica_count=2,
            max_replica_count=4,
        )
    )
    assert full.display_name is None and full.description is None and full.min_replica_count == 2
    wait_for(lambda: client.deployments.get("upd"), lambda d: d.state == "READY")
    assert client.deployments.scale("upd", replica_count=3) == {}
    assert client.deployments.get("upd").desired_replica_count == 3


def test_soft_delete_undelete_hard_delete(client: Fireworks) -> None:
    _create(client, "gone")
    wait_for(lambda: client.deployments.get("gone"), lambda d: d.state == "READY")
    assert client.deployments.delete("gone") == {}
    deleted = wait_for(
        lambda: strict(client.deployments.with_raw_response.get("gone")), lambda d: d.state == "DELETED"
    )
    assert deleted.delete_time and deleted.purge_time and deleted.purge_time > deleted.delete_time
    assert [d.name for d in client.deployments.list()] == []
    assert [d.name for d in client.deployments.list(show_deleted=True)] == [deleted.name]
    back = strict(client.deployments.with_raw_response.undelete("gone", body={}))
    assert back.state == "CREATING" and back.delete_time is None
    wait_for(lambda: client.deployments.get("gone"), lambda d: d.state == "READY")
    client.deployments.delete("gone", hard=True)

    def fetch() -> str:
        try:
            return str(client.deployments.get("gone").state)
        except fireworks.NotFoundError:
            return "404"

    wait_for(fetch, lambda s: s == "404")


def test_purge_after_soft_delete_via_clock(served: Served, client: Fireworks) -> None:
    _create(client, "old")
    client.deployments.delete("old")
    wait_for(lambda: client.deployments.get("old"), lambda d: d.state == "DELETED")
    served.emulator.advance(8 * 86400)
    with pytest.raises(fireworks.NotFoundError):
        client.deployments.get("old")


def test_idle_drift_over_http_clock(served: Served, client: Fireworks) -> None:
    import httpx

    _create(client, "idle", min_replica_count=0)
    wait_for(lambda: client.deployments.get("idle"), lambda d: d.state == "READY")
    resp = httpx.post(
        f"{served.url}/emulator/v1/clock:advance",
        json={"seconds": 7 * 86400 + 60},
        headers={"Authorization": "Bearer test-key"},
    )
    assert resp.status_code == 200 and resp.json()["now"].endswith("Z")
    assert client.deployments.get("idle").state == "DELETED"
    assert list(client.deployments.list()) == []
