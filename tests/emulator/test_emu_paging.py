"""List paging: keyset tokens, totalSize, stable order, orderBy, filters, readMask, and speed at scale."""

from __future__ import annotations

import json
import time

import pytest

from lorainfra.emulator.store import insert_row
from tests.emulator.emukit import ACCOUNT, LLAMA, Api, FakeClock, assert_rpc_error, ready_deployment

D = f"/v1/accounts/{ACCOUNT}/deployments"


def _page_all(api: Api, path: str, key: str, **params: object) -> list[str]:
    names: list[str] = []
    token = ""
    while True:
        query = {**params, **({"pageToken": token} if token else {})}
        body = api.get(path, params=query).json()
        names += [item["name"] for item in body[key]]
        token = body["nextPageToken"]
        if not token:
            return names


def test_page_size_one_sees_every_item_once(api: Api, clock: FakeClock) -> None:
    for i in range(5):
        api.create_deployment(f"d{i}")
        clock.tick(1)
    first = api.get(D, params={"pageSize": 1}).json()
    assert len(first["deployments"]) == 1 and first["totalSize"] == 5 and first["nextPageToken"]
    names = _page_all(api, D, "deployments", pageSize=1)
    assert names == [f"accounts/{ACCOUNT}/deployments/d{i}" for i in range(5)]
    desc = _page_all(api, D, "deployments", pageSize=2, orderBy="createTime desc")
    assert desc == names[::-1]
    by_name = _page_all(api, D, "deployments", pageSize=3, orderBy="name desc")
    assert by_name == sorted(names, reverse=True)


def test_paging_is_stable_while_items_change(api: Api, clock: FakeClock) -> None:
    for i in range(4):
        api.create_deployment(f"d{i}")
    page = api.get(D, params={"pageSize": 2}).json()
    api.create_deployment("zz-new")
    rest = api.get(D, params={"pageSize": 2, "pageToken": page["nextPageToken"]}).json()
    seen = [d["name"] for d in page["deployments"] + rest["deployments"]]
    assert len(seen) == len(set(seen)) == 4


def test_filter_state_and_fields(api: Api, clock: FakeClock) -> None:
    ready_deployment(api, clock, dep_id="ready", displayName="R")
    api.create_deployment("creating", displayName="C")
    assert [
        d["name"].rsplit("/", 1)[1]
        for d in api.get(D, params={"filter": "state=READY"}).json()["deployments"]
    ] == ["ready"]
    assert api.get(D, params={"filter": 'state="CREATING"'}).json()["totalSize"] == 1
    assert api.get(D, params={"filter": 'display_name="R"'}).json()["totalSize"] == 1
    assert (
        api.get(D, params={"filter": f'name="accounts/{ACCOUNT}/deployments/ready"'}).json()["totalSize"] == 1
    )
    assert api.get(D, params={"filter": f'baseModel="{LLAMA}" AND state!=READY'}).json()["totalSize"] == 1
    assert api.get(D, params={"filter": "enableAddons=true"}).json()["totalSize"] == 2
    assert_rpc_error(
        api.get(D, params={"filter": "state=READY OR state=CREATING"}), 3, 400, contains="filter"
    )
    assert_rpc_error(api.get(D, params={"filter": "(state=READY)"}), 3, 400)


def test_page_size_bounds_and_bad_tokens(api: Api) -> None:
    for i in range(3):
        api.create_deployment(f"d{i}")
    assert len(api.get(D, params={"pageSize": 5000}).json()["deployments"]) == 3
    assert_rpc_error(api.get(D, params={"pageSize": -1}), 3, 400)
    assert_rpc_error(api.get(D, params={"pageToken": "garbage!"}), 3, 400, contains="pageToken")
    token = api.get(D, params={"pageSize": 1}).json()["nextPageToken"]
    assert_rpc_error(api.get(D, params={"pageSize": 1, "pageToken": token, "filter": "state=READY"}), 3, 400)
    assert_rpc_error(api.get(D, params={"orderBy": "name sideways"}), 3, 400)
    assert api.get(D, params={"page_size": 1}).json()["nextPageToken"]  # snake_case query names accepted


def test_read_mask(api: Api) -> None:
    api.create_deployment("d0", displayName="x")
    body = api.get(D, params={"readMask": "name,display_name,autoscalingPolicy.scaleUpWindow"}).json()
    assert body["deployments"] == [
        {
            "name": f"accounts/{ACCOUNT}/deployments/d0",
            "displayName": "x",
            "autoscalingPolicy": {"scaleUpWindow": "30s"},
        }
    ]
    assert set(api.get(f"{D}/d0", params={"readMask": "state"}).json()) == {"state"}
    assert "baseModel" in api.get(f"{D}/d0", params={"readMask": "*"}).json()


def test_large_lists_stay_fast(api: Api, clock: FakeClock) -> None:
    """11,000 rows, paged at 200: keyset paging keeps each page cheap (no OFFSET scans)."""
    template = api.create_deployment("template").json()
    dm_template = {
        "model": "accounts/quickstart/models/support-bot-v3",
        "deployment": template["name"],
        "state": "DEPLOYED",
        "serverless": False,
    }
    with api.emu.store.tx() as db:
        for i in range(1000):
            name = f"accounts/{ACCOUNT}/deployments/bulk-{i:05d}"
            insert_row(
                db,
                "deployments",
                {
                    "account": ACCOUNT,
                    "id": f"bulk-{i:05d}",
                    "name": name,
                    "state": "READY",
                    "create_time": clock.t + i,
                    "update_time": clock.t + i,
                    "next_at": None,
                    "data": {**template, "name": name, "state": "READY"},
                    "internal": {},
                },
            )
        for i in range(10000):
            name = f"accounts/{ACCOUNT}/deployedModels/lora-{i:05d}"
            insert_row(
                db,
                "deployed_models",
                {
                    "account": ACCOUNT,
                    "id": f"lora-{i:05d}",
                    "name": name,
                    "state": "DEPLOYED",
                    "create_time": clock.t,
                    "update_time": clock.t,
                    "next_at": None,
                    "data": {**dm_template, "name": name},
                    "internal": {},
                    "model": dm_template["model"],
                    "deployment": template["name"],
                    "serverless": 0,
                },
            )
    start = time.perf_counter()
    deps = _page_all(api, D, "deployments", pageSize=200)
    loras = _page_all(api, f"/v1/accounts/{ACCOUNT}/deployedModels", "deployedModels", pageSize=200)
    filtered = _page_all(
        api,
        f"/v1/accounts/{ACCOUNT}/deployedModels",
        "deployedModels",
        pageSize=200,
        filter=f'deployment="{template["name"]}"',
    )
    elapsed = time.perf_counter() - start
    assert len(deps) == len(set(deps)) == 1001
    # plus one auto-deployed base-model row, made with the template deployment (auto_deploy_base)
    assert len(loras) == len(set(loras)) == 10001 == len(filtered)
    assert elapsed < 10, f"paging 21,000 rows took {elapsed:.1f}s"


def test_list_pages_splice_stored_rows_without_parsing(api: Api, monkeypatch: pytest.MonkeyPatch) -> None:
    """A page is spliced from the stored JSON texts: no json.loads per item (was one per item, issue 16)."""
    for i in range(12):
        api.create_deployment(f"d{i}")
    calls = []
    real = json.loads
    monkeypatch.setattr(json, "loads", lambda *a, **kw: calls.append(1) or real(*a, **kw))
    response = api.get(D, params={"pageSize": 10})
    monkeypatch.undo()
    assert len(response.json()["deployments"]) == 10
    assert len(calls) < 10


def test_list_bodies_are_the_encoding_of_their_objects(api: Api) -> None:
    """Spliced pages are byte-for-byte the response encoding of the decoded objects, non-ASCII included."""
    api.create_deployment("plain", displayName="ascii")
    api.create_deployment("accented", displayName="déploiement ☃")
    for params in ({}, {"pageSize": 1}, {"readMask": "name,displayName"}, {"readMask": "*"}):
        response = api.get(D, params=params)
        assert response.headers["content-type"] == "application/json"
        body = response.json()
        assert response.content == json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode()
    assert "déploiement ☃".encode() in api.get(D).content


def test_total_size_is_counted_once_per_listing(api: Api, clock: FakeClock) -> None:
    """totalSize is counted on the first page and carried in the page token (was a COUNT(*) per page, issue 16)."""
    for i in range(5):
        api.create_deployment(f"d{i}")
        clock.tick(1)
    counts: list[str] = []
    api.emu.store._conn.set_trace_callback(lambda sql: counts.append(sql) if "COUNT(*)" in sql else None)
    try:
        first = api.get(D, params={"pageSize": 2}).json()
        api.create_deployment("late")  # made while the listing is under way: in a later page, not in its total
        pages = [first]
        while pages[-1]["nextPageToken"]:
            pages.append(api.get(D, params={"pageSize": 2, "pageToken": pages[-1]["nextPageToken"]}).json())
    finally:
        api.emu.store._conn.set_trace_callback(None)
    assert len(pages) == 3 and len(counts) == 1
    assert [p["totalSize"] for p in pages] == [5, 5, 5]
    assert sum(len(p["deployments"]) for p in pages) == 6
    assert api.get(D, params={"pageSize": 2}).json()["totalSize"] == 6  # a new listing counts again
