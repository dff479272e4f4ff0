"""Deployment shapes and versions: list/get, '-' wildcards, latest, match."""

from __future__ import annotations

from tests.emulator.emukit import ACCOUNT, LLAMA, SUPPORT_BOT, Api, assert_rpc_error

S = f"/v1/accounts/{ACCOUNT}/deploymentShapes"


def test_list_and_get_shapes(api: Api) -> None:
    shapes = api.get(S).json()
    assert shapes["totalSize"] == len(shapes["deploymentShapes"]) >= 5
    first = shapes["deploymentShapes"][0]
    assert first["name"].startswith("accounts/fireworks/deploymentShapes/")
    shape_id = first["name"].rsplit("/", 1)[1]
    assert api.get(f"{S}/{shape_id}").json() == first
    assert api.get(f"/v1/{first['name']}").json() == first
    assert_rpc_error(api.get(f"{S}/nope"), 5, 404)
    targeted = api.get(S, params={"targetModel": SUPPORT_BOT}).json()["deploymentShapes"]
    assert targeted and all(s["baseModel"] == LLAMA for s in targeted)


def test_versions(api: Api) -> None:
    shape = "llama-v3p1-8b-instruct-multi-lora"
    versions = api.get(f"{S}/{shape}/versions").json()["deploymentShapeVersions"]
    assert [v["name"].rsplit("/", 1)[1] for v in versions] == ["v1", "v2", "v3"]
    assert [v["latestValidated"] for v in versions] == [False, True, False]
    assert api.get(f"{S}/{shape}/versions/v2").json() == versions[1]
    assert api.get(f"{S}/{shape}/versions/latest").json() == versions[1]
    assert_rpc_error(api.get(f"{S}/{shape}/versions/v9"), 5, 404)
    everything = api.get("/v1/accounts/-/deploymentShapes/-/versions", params={"pageSize": 200}).json()
    assert everything["totalSize"] == 3 * api.get(S).json()["totalSize"]
    filtered = api.get(
        "/v1/accounts/-/deploymentShapes/-/versions",
        params={"filter": f'snapshot.base_model="{LLAMA}" AND latest_validated=true'},
    ).json()
    assert {v["snapshot"]["baseModel"] for v in filtered["deploymentShapeVersions"]} == {LLAMA}
    assert (
        all(v["latestValidated"] for v in filtered["deploymentShapeVersions"]) and filtered["totalSize"] == 2
    )


def test_match(api: Api) -> None:
    path = f"/v1/accounts/{ACCOUNT}/deploymentShapeVersions:match"
    body = {"createDeploymentRequest": {"parent": f"accounts/{ACCOUNT}", "deployment": {"baseModel": LLAMA}}}
    plain = api.post(path, json=body).json()
    assert plain["totalSize"] == 2
    body["createDeploymentRequest"]["deployment"] = {"baseModel": SUPPORT_BOT, "enableAddons": True}
    addons = api.post(path, json=body).json()["deploymentShapeVersions"]
    assert len(addons) == 1 and addons[0]["snapshot"]["enableAddons"] is True
    body["createDeploymentRequest"]["deployment"] = {"baseModel": "accounts/fireworks/models/unknown"}
    assert api.post(path, json=body).json()["deploymentShapeVersions"] == []
    assert_rpc_error(api.post(path, json={}), 3, 400)
