"""The exact requests the provider sends, checked against the wire contract, and every response shape it must parse."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import httpx
import pytest

from lorainfra import __version__
from lorainfra.config.model import frozen_mapping
from lorainfra.errors import ApiError, TransportError
from lorainfra.providers.fireworks import FireworksProvider, RetryPolicy

Handler = Any


def make(handler: Handler, **kw: Any) -> tuple[FireworksProvider, list[httpx.Request]]:
    seen: list[httpx.Request] = []

    def record(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return handler(request)

    async def no_sleep(_: float) -> None:
        return None

    provider = FireworksProvider(account="acme", api_key="sk-secret-123", base_url="https://api.fireworks.ai",
                                 transport=httpx.MockTransport(record), sleep=no_sleep, max_rps=0, **kw)
    return provider, seen


def run(coro):  # type: ignore[no-untyped-def]
    return asyncio.run(coro)


def body(req: httpx.Request) -> Any:
    return json.loads(req.content) if req.content else None


DEP = {"name": "accounts/acme/deployments/base", "baseModel": "accounts/fireworks/models/m", "state": "READY"}


def test_headers_on_every_request() -> None:
    p, seen = make(lambda r: httpx.Response(200, json={"deployments": []}))
    run(p.refresh())
    for req in seen:
        assert req.headers["authorization"] == "Bearer sk-secret-123"
        assert req.headers["user-agent"] == f"lorainfra/{__version__}"
        assert req.headers["accept"] == "application/json"


def test_refresh_pages_with_page_size_200_until_token_empty_or_missing() -> None:
    pages = {
        "deployments": [({"deployments": [DEP], "nextPageToken": "t1"}), ({"deployments": [], "nextPageToken": ""})],
        "deployedModels": [({"deployedModels": [{"name": "accounts/acme/deployedModels/a", "model": "m1",
                                                 "deployment": "accounts/acme/deployments/base", "state": "DEPLOYED"}],
                             "nextPageToken": "p2"}),
                           ({})],  # last page: no list key, no token at all
        "models": [({"models": [], "nextPageToken": ""}), ({})],
    }

    def handler(req: httpx.Request) -> httpx.Response:
        coll = req.url.path.rsplit("/", 1)[-1]
        idx = 1 if req.url.params.get("pageToken") else 0
        return httpx.Response(200, json=pages[coll][idx])

    p, seen = make(handler)
    obs = run(p.refresh())
    assert set(obs.objects) == {"accounts/acme/deployments/base", "accounts/acme/deployedModels/a"}
    assert obs.requests == 5
    for req in seen:
        assert req.method == "GET"
        assert req.url.path in ("/v1/accounts/acme/deployments", "/v1/accounts/acme/deployedModels",
                                "/v1/accounts/acme/models")
        assert req.url.params["pageSize"] == "200"
        # deployments are listed with the soft-deleted ones: a DELETED deployment still holds its ID (issue 10 item 5)
        listed_deleted = {"showDeleted"} if req.url.path.endswith("/deployments") else set()
        assert set(req.url.params) - {"pageSize", "pageToken", "orderBy"} == listed_deleted
        assert req.url.params["orderBy"] == "name"  # name order: a long listing is read from both ends (listing.py)
        assert all(req.url.params[key] == "true" for key in listed_deleted)
    assert [r.url.params.get("pageToken") for r in seen if r.url.path.endswith("deployments")] == [None, "t1"]
    lora = obs.objects["accounts/acme/deployedModels/a"]
    assert lora.attributes["deployment"] == "base" and lora.attributes["serverless"] is False


def test_missing_default_fields_parse_as_defaults() -> None:
    p, _ = make(lambda r: httpx.Response(200, json={"name": "accounts/acme/deployments/x", "baseModel": "m"}))
    obj = run(p.get("deployment", "accounts/acme/deployments/x"))
    assert obj.attributes["min_replica_count"] == 0
    assert obj.attributes["enable_addons"] is False
    # server-computed or server-filled: never defaulted
    assert "max_replica_count" not in obj.attributes and "display_name" not in obj.attributes
    assert obj.state == ""


def test_create_deployment_request_shape() -> None:
    p, seen = make(lambda r: httpx.Response(200, json={**DEP, "state": "CREATING"}))
    attrs = frozen_mapping({"base_model": "accounts/fireworks/models/m", "min_replica_count": 1, "max_replica_count": 2,
                            "enable_addons": True, "accelerator_type": "NVIDIA_H100_80GB", "accelerator_count": 1,
                            "autoscaling_policy.scale_down_window": "10m", "placement.region": "US_IOWA_1",
                            "display_name": "", "description": ""})
    run(p.create("deployment", "base", attrs))
    run(p.create("deployment", "base", attrs, validate_only=True))
    first, second = seen
    assert first.method == "POST" and first.url.path == "/v1/accounts/acme/deployments"
    assert dict(first.url.params) == {"deploymentId": "base"}
    assert dict(second.url.params) == {"deploymentId": "base", "validateOnly": "true"}
    assert first.headers["content-type"] == "application/json"
    assert body(first) == {
        "baseModel": "accounts/fireworks/models/m", "minReplicaCount": 1, "maxReplicaCount": 2, "enableAddons": True,
        "acceleratorType": "NVIDIA_H100_80GB", "acceleratorCount": 1, "displayName": "", "description": "",
        "autoscalingPolicy": {"scaleDownWindow": "600s"}, "placement": {"region": "US_IOWA_1"},
    }


def test_update_sends_update_mask_with_exactly_the_changed_fields() -> None:
    p, seen = make(lambda r: httpx.Response(200, json={**DEP, "state": "UPDATING"}))
    attrs = frozen_mapping({"base_model": "accounts/fireworks/models/m", "min_replica_count": 2, "max_replica_count": 4,
                            "display_name": "x"})
    run(p.update("deployment", "accounts/acme/deployments/base", attrs, ("min_replica_count", "max_replica_count")))
    (req,) = seen
    assert req.method == "PATCH" and req.url.path == "/v1/accounts/acme/deployments/base"
    assert dict(req.url.params) == {"updateMask": "max_replica_count,min_replica_count"}
    assert body(req) == {"minReplicaCount": 2, "maxReplicaCount": 4, "baseModel": "accounts/fireworks/models/m"}


def test_update_mask_uses_top_level_paths_with_the_whole_sub_object() -> None:
    # issue 10 item 7: Fireworks' own clients send updateMask=autoscaling_policy,placement with the full sub-objects
    # (fireworks/training/sdk/deployment.py update(body, update_mask))
    p, seen = make(lambda r: httpx.Response(200, json={**DEP, "state": "UPDATING"}))
    attrs = frozen_mapping({"base_model": "accounts/fireworks/models/m", "min_replica_count": 1,
                            "autoscaling_policy.scale_up_window": "60s", "autoscaling_policy.scale_down_window": "600s",
                            "placement.region": "US_IOWA_1"})
    run(p.update("deployment", "accounts/acme/deployments/base", attrs,
                 ("autoscaling_policy.scale_up_window", "placement.region")))
    (req,) = seen
    assert dict(req.url.params) == {"updateMask": "autoscaling_policy,placement"}
    assert body(req) == {"autoscalingPolicy": {"scaleUpWindow": "60s", "scaleDownWindow": "600s"},
                         "placement": {"region": "US_IOWA_1"}, "baseModel": "accounts/fireworks/models/m"}


def test_delete_deployment_hard_and_404_is_done() -> None:
    p, seen = make(lambda r: httpx.Response(404, json={"code": 5, "message": "not found"}))
    run(p.delete("deployment", "accounts/acme/deployments/base"))
    run(p.delete("lora", "accounts/acme/deployedModels/abc"))
    assert [(r.method, r.url.path, dict(r.url.params)) for r in seen] == [
        ("DELETE", "/v1/accounts/acme/deployments/base", {"hard": "true"}),
        ("DELETE", "/v1/accounts/acme/deployedModels/abc", {}),
    ]


def test_destroy_force_sends_ignore_checks_and_a_refused_delete_says_to_use_it() -> None:
    # issue 10 item 9: DELETE .../deployments/{id}?ignoreChecks=true (fireworks/resources/deployments.py)
    refusal = {"code": 9, "message": "deployment has 2 LoRAs loaded; unload them or set ignoreChecks=true"}
    p, seen = make(lambda r: httpx.Response(400, json=refusal))
    with pytest.raises(ApiError) as info:
        run(p.delete("deployment", "accounts/acme/deployments/base"))
    assert "ignoreChecks" not in seen[0].url.params
    assert info.value.status == 400 and "`lorainfra destroy --force`" in info.value.message
    assert info.value.message.startswith(refusal["message"])
    forced, seen = make(lambda r: httpx.Response(200, json={}), force_deletes=True)
    run(forced.delete("deployment", "accounts/acme/deployments/base"))
    run(forced.delete("lora", "accounts/acme/deployedModels/abc"))
    assert [dict(r.url.params) for r in seen] == [{"hard": "true", "ignoreChecks": "true"}, {}]


def test_load_lora_on_deployment_and_serverless() -> None:
    p, seen = make(lambda r: httpx.Response(200, json={"name": "accounts/acme/deployedModels/z", "state": "DEPLOYING",
                                                       "model": "accounts/acme/models/bot"}))
    run(p.create("lora", "", frozen_mapping({"model": "accounts/acme/models/bot", "deployment": "base",
                                             "serverless": False, "display_name": "Bot"})))
    run(p.create("lora", "", frozen_mapping({"model": "accounts/acme/models/bot", "deployment": "",
                                             "serverless": True})))
    a, b = seen
    assert (a.method, a.url.path, dict(a.url.params)) == ("POST", "/v1/accounts/acme/deployedModels", {})
    assert body(a) == {"model": "accounts/acme/models/bot", "deployment": "accounts/acme/deployments/base",
                       "displayName": "Bot"}
    assert body(b) == {"model": "accounts/acme/models/bot", "serverless": True}


@pytest.mark.parametrize(
    "payload",
    [
        {"code": 3, "message": "bad accelerator", "details": []},
        {"error": {"code": 3, "message": "bad accelerator"}},
    ],
)
def test_both_error_envelopes(payload: dict[str, Any]) -> None:
    p, _ = make(lambda r: httpx.Response(400, json=payload))
    with pytest.raises(ApiError) as info:
        run(p.get("deployment", "accounts/acme/deployments/x"))
    assert info.value.status == 400 and info.value.code == 3 and info.value.message == "bad accelerator"
    assert "sk-secret" not in str(info.value)


def test_retries_429_honouring_retry_after_then_succeeds() -> None:
    answers = [httpx.Response(429, headers={"Retry-After": "2"}, json={"code": 8, "message": "slow down"}),
               httpx.Response(503, json={"code": 14, "message": "unavailable"}),
               httpx.Response(200, json=DEP)]
    delays: list[float] = []

    async def sleep(d: float) -> None:
        delays.append(d)

    seen: list[httpx.Request] = []

    def handler(r: httpx.Request) -> httpx.Response:
        seen.append(r)
        return answers.pop(0)

    p = FireworksProvider(account="acme", api_key="k", base_url="https://api.fireworks.ai",
                          transport=httpx.MockTransport(handler), sleep=sleep, max_rps=0)
    obj = run(p.get("deployment", DEP["name"]))
    assert obj is not None and obj.state == "READY"
    assert len(seen) == 3 and delays[0] == 2.0 and 0 < delays[1] <= 0.5


def test_conflict_is_not_retried_and_surfaces_409() -> None:
    p, seen = make(lambda r: httpx.Response(409, json={"code": 6, "message": "exists"}))
    with pytest.raises(ApiError) as info:
        run(p.create("deployment", "base", frozen_mapping({"base_model": "m"})))
    assert info.value.status == 409 and len(seen) == 1


def test_connection_errors_are_retried_then_reported() -> None:
    def handler(r: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("refused", request=r)

    p, seen = make(handler, retry=RetryPolicy(max_attempts=3))
    with pytest.raises(TransportError):
        run(p.get("deployment", DEP["name"]))
    assert len(seen) == 3


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.now += seconds


def test_unreachable_endpoint_gives_up_after_the_unreachable_deadline_a_reached_one_at_the_full_deadline() -> None:
    clock = FakeClock()
    refuse = {"on": True}
    seen: list[float] = []

    def handler(r: httpx.Request) -> httpx.Response:
        seen.append(clock.now)
        if refuse["on"]:
            raise httpx.ConnectError("[Errno 111] Connection refused", request=r)
        return httpx.Response(200, json=DEP)

    p = FireworksProvider(account="acme", api_key="sk-secret-123", base_url="https://api.fireworks.ai",
                          transport=httpx.MockTransport(handler), sleep=clock.sleep, clock=clock, max_rps=0,
                          retry=RetryPolicy(deadline=300.0, unreachable_deadline=10.0))
    with pytest.raises(TransportError, match="cannot reach the endpoint"):
        run(p.get("deployment", DEP["name"]))
    assert 10.0 <= seen[-1] < 20.0  # never reached: given up after about 10 s, not 300
    refuse["on"] = False
    assert run(p.get("deployment", DEP["name"])) is not None
    refuse["on"] = True
    start = clock.now
    with pytest.raises(TransportError):
        run(p.get("deployment", DEP["name"]))
    assert clock.now - start >= 299.0  # once reached, a refused connection is a passing fault: full deadline


def test_provider_strips_the_key_and_refuses_one_that_cannot_be_a_header() -> None:
    from lorainfra.errors import SettingsError

    seen: list[httpx.Request] = []

    def handler(r: httpx.Request) -> httpx.Response:
        seen.append(r)
        return httpx.Response(200, json=DEP)

    p = FireworksProvider(account="acme", api_key=" sk-secret-123\n", base_url="https://api.fireworks.ai",
                          transport=httpx.MockTransport(handler), max_rps=0)
    run(p.get("deployment", DEP["name"]))
    assert seen[-1].headers["authorization"] == "Bearer sk-secret-123"
    with pytest.raises(SettingsError) as info:
        FireworksProvider(account="acme", api_key="sk-secret-123\u00e9", base_url="https://api.fireworks.ai")
    assert "sk-secret" not in str(info.value)


def test_default_request_rate_is_a_small_share_of_the_account_quota() -> None:
    # issue 10 item 6: 6,000 requests/minute per account (100/s), shared with inference; default about 10/s
    from lorainfra.cli.options import GlobalOptions

    p = FireworksProvider(account="acme", api_key="k", base_url="https://api.fireworks.ai")
    assert p._http._limiter.rate == 10.0
    assert GlobalOptions().max_rps == 10.0  # the --max-rps default


def test_a_quota_resource_exhausted_is_final_not_retried() -> None:
    # issue 10 item 6: RESOURCE_EXHAUSTED that is a quota (x-should-retry: false, no Retry-After) is final
    answer = {"code": 8, "message": "serverless LoRA limit reached",
              "details": [{"reason": "SERVERLESS_LORA_LIMIT", "metadata": {"kind": "quota"}}]}
    p, seen = make(lambda r: httpx.Response(429, headers={"x-should-retry": "false"}, json=answer))
    with pytest.raises(ApiError) as info:
        run(p.create("lora", "", frozen_mapping({"model": "accounts/acme/models/a", "serverless": True})))
    assert info.value.status == 429 and len(seen) == 1


def test_refresh_ignores_the_auto_deployed_base_row_and_serverless_identity_ignores_the_deployment() -> None:
    # issue 10 item 8: a deployment created with an undeployed base model also lists that base model as a
    # DeployedModel (docs: create-deployment, disableAutoDeploy); it is not a LoRA, neither ours nor unmanaged
    base = DEP["baseModel"]
    rows = [{"name": "accounts/acme/deployedModels/m-abc", "model": base, "deployment": DEP["name"], "state": "DEPLOYED"},
            {"name": "accounts/acme/deployedModels/bot-1", "model": "accounts/acme/models/bot",
             "deployment": DEP["name"], "state": "DEPLOYED"},
            {"name": "accounts/acme/deployedModels/sl-1", "model": "accounts/acme/models/sl", "serverless": True,
             "deployment": "accounts/fireworks/deployments/shared-serverless-pool", "state": "DEPLOYED"}]

    def handler(req: httpx.Request) -> httpx.Response:
        coll = req.url.path.rsplit("/", 1)[-1]
        return httpx.Response(200, json={coll: [DEP] if coll == "deployments" else rows})

    p, _ = make(handler)
    obs = run(p.refresh())
    assert sorted(obs.objects) == ["accounts/acme/deployedModels/bot-1", "accounts/acme/deployedModels/sl-1",
                                   DEP["name"]]
    serverless = obs.objects["accounts/acme/deployedModels/sl-1"]
    assert serverless.key == ("accounts/acme/models/sl", "", True)
    assert serverless.attributes["deployment"] == ""


def test_list_some_parses_only_the_names_asked_for() -> None:
    items = [{"name": f"accounts/acme/deployments/d{i}", "state": "READY"} for i in range(5)]

    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json={"deployments": items, "totalSize": 5})

    provider, seen = make(handler)
    wanted = frozenset({"accounts/acme/deployments/d1", "accounts/acme/deployments/d3", "accounts/acme/deployments/x"})
    total, some = run(provider.list_some("deployment", wanted))
    assert total == 5 and len(seen) == 1
    assert sorted(o.name for o in some) == ["accounts/acme/deployments/d1", "accounts/acme/deployments/d3"]
