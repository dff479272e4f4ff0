"""Listing from both ends (providers/listing.py): the same objects as one stream, fewer chained pages, and a
plain listing whenever the server does not honour the order."""

from __future__ import annotations

import asyncio
import dataclasses
import json
from collections.abc import Callable, Coroutine, Iterator, Mapping
from pathlib import Path
from typing import Any

import httpx
import pytest

from lorainfra.emulator import Emulator, EmulatorOptions
from lorainfra.errors import ProtocolError
from lorainfra.kinds.registry import kind_of
from lorainfra.live import RemoteObject
from lorainfra.providers.fireworks import FireworksProvider, local_provider
from lorainfra.providers.listing import Pages, list_both_ends
from tests.unit.deployment_rows import ACCOUNT, TEMPLATE, deployment_name, insert_deployments

DEPLOYMENT = kind_of("deployment")
_name = deployment_name


def _insert(emu: Emulator, ids: range) -> None:
    insert_deployments(emu, ids)


@pytest.fixture
def emulator(tmp_path: Path) -> Iterator[Emulator]:
    emu = Emulator(tmp_path / "emulator.db", EmulatorOptions())
    yield emu
    emu.close()


def _delete(emu: Emulator, name: str) -> None:
    with emu.store.tx() as db:
        db.execute("DELETE FROM deployments WHERE name = ?", (name,))


def _run(coro: Coroutine[Any, Any, Any]) -> Any:
    return asyncio.run(coro)


def _provider(emu: Emulator) -> FireworksProvider:
    return local_provider(emu.app, account=ACCOUNT, api_key="test-key", max_rps=0)


def _counting(pages: Pages, log: list[Mapping[str, Any]], *, after: Callable[[int], None] | None = None,
              **changes: Any) -> Pages:
    async def fetch(query: Mapping[str, Any]) -> dict[str, Any]:
        log.append(dict(query))
        page = await pages.fetch(query)
        if after is not None:
            after(len(log))
        return page

    return dataclasses.replace(pages, fetch=fetch, **changes)


def _both_ends(emu: Emulator, *, page_size: int, both_ends_from: int = 0,
               after: Callable[[int], None] | None = None) -> tuple[list[RemoteObject], list[Mapping[str, Any]]]:
    async def go() -> list[RemoteObject]:
        provider = _provider(emu)
        try:
            pages = _counting(provider.listing_pages("deployment"), log, after=after, page_size=page_size,
                              both_ends_from=both_ends_from)
            return await list_both_ends(pages, DEPLOYMENT.list_params(),
                                        lambda raw: DEPLOYMENT.from_wire(raw, account=ACCOUNT))
        finally:
            await provider.aclose()

    log: list[Mapping[str, Any]] = []
    return _run(go()), log


def _one_stream(emu: Emulator) -> list[RemoteObject]:
    async def go() -> list[RemoteObject]:
        provider = _provider(emu)
        try:
            raw = await provider._list_all(DEPLOYMENT.collection, DEPLOYMENT.list_params())
            return [DEPLOYMENT.from_wire(r, account=ACCOUNT) for r in raw]
        finally:
            await provider.aclose()

    return _run(go())


def _by_name(objects: list[RemoteObject]) -> dict[str, tuple[str, str]]:
    return {o.name: (o.digest, o.state) for o in objects}


@pytest.mark.parametrize("size", [0, 1, 199, 200, 201, 401, 603, 1001])
def test_both_ends_list_the_same_objects_as_one_stream_at_page_size_200(emulator: Emulator, size: int) -> None:
    _insert(emulator, range(size))
    listed, log = _both_ends(emulator, page_size=200)
    assert [o.name for o in listed] == sorted(_name(i) for i in range(size))
    assert _by_name(listed) == _by_name(_one_stream(emulator))
    plain_pages = max(1, -(-size // 200))
    assert len(log) <= plain_pages + 1  # at most one page more than one stream: the overlap that proves the meeting
    orders = [q.get("orderBy") for q in log]
    if plain_pages > 2:  # both ends were opened: the chain is about half as long
        assert orders.count("name desc") >= plain_pages // 2 - 1
    else:
        assert set(orders) == {"name"}


def test_both_ends_meet_at_every_offset(emulator: Emulator) -> None:
    """Small pages: every size up to 40 at 3 a page, so the streams meet inside a page, on its edge, or by
    one stream ending."""
    for size in range(41):
        listed, log = _both_ends(emulator, page_size=3)
        expected = sorted(_name(i) for i in range(size))
        assert [o.name for o in listed] == expected, size
        assert len(log) <= max(1, -(-size // 3)) + 1, size
        _insert(emulator, range(size, size + 1))


def test_the_chain_of_pages_is_about_half_as_long(emulator: Emulator) -> None:
    """The chain is measured by dependency depth, not a clock: a request's depth is one more than the deepest
    request answered before it was sent (one stream: every page waits for the one before it)."""
    _insert(emulator, range(99))
    deepest_done = {"depth": 0}
    depths: list[int] = []

    async def go() -> list[RemoteObject]:
        provider = _provider(emulator)
        base = dataclasses.replace(provider.listing_pages("deployment"), page_size=3, both_ends_from=0)

        async def fetch(query: Mapping[str, Any]) -> dict[str, Any]:
            depth = deepest_done["depth"] + 1
            depths.append(depth)
            await asyncio.sleep(0)  # on the wire: the in-process emulator would answer before the next is sent
            page = await base.fetch(query)
            deepest_done["depth"] = max(deepest_done["depth"], depth)
            return page

        try:
            return await list_both_ends(dataclasses.replace(base, fetch=fetch), DEPLOYMENT.list_params(),
                                        lambda raw: DEPLOYMENT.from_wire(raw, account=ACCOUNT))
        finally:
            await provider.aclose()

    assert len(_run(go())) == 99
    assert len(depths) <= 34  # 33 pages for one stream, plus the overlap
    assert max(depths) <= 18  # one stream: 33 deep


def test_an_object_present_throughout_is_listed_while_others_come_and_go(emulator: Emulator) -> None:
    _insert(emulator, range(60))
    doomed = [_name(i) for i in range(0, 60, 5)]
    stable = sorted(set(_name(i) for i in range(60)) - set(doomed))
    created: list[str] = []

    def meddle(request_number: int) -> None:  # between pages: delete one, create one
        if request_number - 1 < len(doomed):
            _delete(emulator, doomed[request_number - 1])
        _insert(emulator, range(1000 + request_number, 1001 + request_number))
        created.append(_name(1000 + request_number))

    listed, _ = _both_ends(emulator, page_size=4, after=meddle)
    names = [o.name for o in listed]
    assert len(names) == len(set(names))  # an object read by both streams is listed once
    assert set(stable) <= set(names)
    assert set(names) <= set(stable) | set(doomed) | set(created)


# ------------------------------------------------------------------ servers that do not honour orderBy


def _fake_server(names: list[str], *, reject_order: bool = False) -> tuple[Pages, list[Mapping[str, Any]]]:
    """A collection served in the fixed order given, whatever orderBy says (offset tokens, totalSize)."""
    log: list[Mapping[str, Any]] = []

    async def fetch(query: Mapping[str, Any]) -> dict[str, Any]:
        log.append(dict(query))
        if reject_order and "orderBy" in query:
            from lorainfra.errors import ApiError

            raise ApiError(400, message="invalid orderBy", method="GET", path="/v1/x")
        size = int(query["pageSize"])
        start = int(query.get("pageToken") or 0)
        chunk = names[start:start + size]
        more = start + size < len(names)
        return {"deployments": [{**TEMPLATE, "name": n} for n in chunk], "totalSize": len(names),
                "nextPageToken": str(start + size) if more else ""}

    def split(page: dict[str, Any]) -> tuple[list[dict[str, Any]], str]:
        return page["deployments"], page["nextPageToken"]

    return Pages(fetch=fetch, split=split, page_size=3, max_pages=1000, what="GET x", both_ends_from=0), log


def _list(pages: Pages) -> list[str]:
    found: list[RemoteObject] = asyncio.run(list_both_ends(pages, {}, lambda raw: DEPLOYMENT.from_wire(raw, account=ACCOUNT)))
    return [o.name for o in found]


@pytest.mark.parametrize("order", ["ascending", "descending", "shuffled"])
@pytest.mark.parametrize("page_size", [1, 3])
def test_a_server_that_ignores_order_by_is_listed_plainly(order: str, page_size: int) -> None:
    names = sorted(_name(i) for i in range(17))
    served = {"ascending": names, "descending": names[::-1],
              "shuffled": sorted(names, key=lambda n: json.dumps(n)[::-1])}[order]
    pages, log = _fake_server(served)
    found = _list(dataclasses.replace(pages, page_size=page_size))
    assert sorted(found) == names and len(found) == len(names)
    assert len(log) <= -(-len(names) // page_size) + 2  # the plain listing plus at most the desc stream's page


def test_a_server_that_refuses_order_by_is_listed_without_it() -> None:
    names = sorted(_name(i) for i in range(10))
    pages, log = _fake_server(names, reject_order=True)
    assert _list(pages) == names
    assert "orderBy" in log[0] and all("orderBy" not in q for q in log[1:])


def test_a_repeated_token_in_either_stream_stops_the_listing() -> None:
    async def fetch(query: Mapping[str, Any]) -> dict[str, Any]:
        desc = query.get("orderBy") == "name desc"
        item = {**TEMPLATE, "name": f"accounts/{ACCOUNT}/deployments/{'z' if desc else 'a'}-{query.get('pageToken', '')}"}
        return {"deployments": [item], "totalSize": 100, "nextPageToken": "same"}

    pages = Pages(fetch=fetch, split=lambda p: (p["deployments"], p["nextPageToken"]), page_size=1, max_pages=50,
                  what="GET x", both_ends_from=0)
    with pytest.raises(ProtocolError, match="repeated nextPageToken"):
        _list(pages)


def test_http_client_pages_are_checked_as_before() -> None:
    def handler(req: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json={"deployments": [{"nope": 1}], "nextPageToken": ""})

    async def go() -> None:
        provider = FireworksProvider(account=ACCOUNT, api_key="k", base_url="https://api.fireworks.ai",
                                     transport=httpx.MockTransport(handler), max_rps=0)
        try:
            await provider.list_objects("deployment")
        finally:
            await provider.aclose()

    with pytest.raises(ProtocolError, match="without a name"):
        asyncio.run(go())


def test_streams_that_cross_by_python_order_but_share_no_object_read_on() -> None:
    """A server honouring the order by a collation of its own, where it differs from Python's only between
    names no page shows side by side: the streams cross by Python's order with an object unread between them
    in the server's order; they must meet on an object both read before stopping."""
    served = [f"accounts/{ACCOUNT}/deployments/{i}" for i in "abxyzcd"]  # the server's order: z between y and c
    log: list[Mapping[str, Any]] = []

    async def fetch(query: Mapping[str, Any]) -> dict[str, Any]:
        log.append(dict(query))
        names = served[::-1] if query.get("orderBy") == "name desc" else served
        start = int(query.get("pageToken") or 0)
        chunk = names[start:start + 2]
        return {"deployments": [{**TEMPLATE, "name": n} for n in chunk], "totalSize": len(names),
                "nextPageToken": str(start + 2) if start + 2 < len(names) else ""}

    pages = Pages(fetch=fetch, split=lambda p: (p["deployments"], p["nextPageToken"]), page_size=2, max_pages=50,
                  what="GET x", both_ends_from=0)
    assert sorted(_list(pages)) == sorted(served)
