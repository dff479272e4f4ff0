"""Polls of objects just created read the collection newest first and stop early (providers/newest.py,
engine/poller.py): a page or two whatever the account's size (issue 16: a whole LIST per poll made the requests
per operation grow with the fleet)."""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Iterator, Mapping
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from lorainfra.config.model import frozen_mapping
from lorainfra.emulator import Emulator, EmulatorOptions
from lorainfra.emulator.clock import rfc3339
from lorainfra.engine.poller import NEWEST_FROM, Poller
from lorainfra.errors import ApiError
from lorainfra.live import RemoteObject
from lorainfra.providers.fireworks import FireworksProvider, local_provider
from lorainfra.providers.listing import Pages
from lorainfra.providers.newest import created_at, list_newest
from tests.unit.deployment_rows import ACCOUNT, deployment_name, insert_deployments


@pytest.fixture
def emulator(tmp_path: Path) -> Iterator[Emulator]:
    emu = Emulator(tmp_path / "emulator.db", EmulatorOptions())
    yield emu
    emu.close()


def _name(i: int) -> str:
    return deployment_name(i)


def _insert(emu: Emulator, count: int) -> None:
    insert_deployments(emu, range(count))


def _counted(provider: FireworksProvider, log: list[Mapping[str, Any]]) -> None:
    pages = provider.listing_pages("deployment")

    async def fetch(query: Mapping[str, Any]) -> dict[str, Any]:
        log.append(dict(query))
        return await pages.fetch(query)

    provider.listing_pages = lambda kind: dataclasses.replace(pages, fetch=fetch)  # type: ignore[method-assign]


def _since(i: int) -> datetime:
    found = created_at(rfc3339(1000.0 + i))
    assert found is not None
    return found


def test_objects_just_created_are_read_from_the_first_page_whatever_the_account_size(emulator: Emulator) -> None:
    _insert(emulator, 1000)
    provider = local_provider(emulator.app, account=ACCOUNT, api_key="test-key", max_rps=0)
    log: list[Mapping[str, Any]] = []
    _counted(provider, log)
    newest = frozenset(_name(i) for i in (997, 998, 999))

    async def go() -> tuple[dict[str, RemoteObject] | None, tuple[int, list[RemoteObject]]]:
        try:
            return (await provider.list_newest("deployment", newest, _since(997)),
                    await provider.list_some("deployment", newest))
        finally:
            await provider.aclose()

    found, (_, whole) = asyncio.run(go())
    assert found is not None and sorted(found) == sorted(newest) == sorted(o.name for o in whole)
    assert [q.get("orderBy") for q in log] == ["createTime desc"]  # one page; the whole LIST pages through all 1,000
    assert {n: o.attributes for n, o in found.items()} == {o.name: o.attributes for o in whole}


def test_reading_stops_at_objects_older_than_the_oldest_asked_for(emulator: Emulator) -> None:
    _insert(emulator, 1000)
    provider = local_provider(emulator.app, account=ACCOUNT, api_key="test-key", max_rps=0)
    log: list[Mapping[str, Any]] = []
    _counted(provider, log)
    gone = f"accounts/{ACCOUNT}/deployments/deleted-meanwhile"

    async def go() -> dict[str, RemoteObject] | None:
        try:
            return await provider.list_newest("deployment", frozenset({_name(990), _name(700), gone}), _since(700))
        finally:
            await provider.aclose()

    found = asyncio.run(go())
    assert found is not None and sorted(found) == sorted([_name(990), _name(700)])
    assert len(log) == 2  # items 999..800, then 799..600 (older than 700: the absent name is not further down)


def _fake_pages(times: list[str], *, refuse: bool = False) -> Pages:
    items = [{"name": f"n{i}", "createTime": t} for i, t in enumerate(times)]

    async def fetch(query: Mapping[str, Any]) -> dict[str, Any]:
        if refuse:
            raise ApiError(status=400, message="invalid orderBy")
        return {"items": items}

    return Pages(fetch=fetch, split=lambda page: (page["items"], ""), page_size=200, max_pages=10, what="GET /x")


@pytest.mark.parametrize("times", [
    ["2026-01-01T00:00:01Z", "2026-01-01T00:00:02Z"],  # oldest first: the order was ignored
    ["2026-01-01T00:00:02Z", ""],  # no createTime: cannot be trusted
])
def test_a_server_that_does_not_list_newest_first_gets_none(times: list[str]) -> None:
    since = created_at("2026-01-01T00:00:00Z")
    assert since is not None
    assert asyncio.run(list_newest(_fake_pages(times), {}, frozenset({"n0"}), since, lambda raw: raw)) is None
    assert asyncio.run(list_newest(_fake_pages(times[:1], refuse=True), {}, frozenset({"n0"}), since,
                                   lambda raw: raw)) is None


class NewestProvider:
    """Answers a newest-first read with some names (None: it does not list in that order); records every read."""

    def congested(self) -> bool:
        return False

    def __init__(self, seen: set[str] | None) -> None:
        self.seen = seen
        self.newest: list[tuple[frozenset[str], datetime]] = []
        self.gets: list[str] = []

    async def list_newest(self, kind: str, names: frozenset[str], since: datetime) -> dict[str, RemoteObject] | None:
        self.newest.append((names, since))
        if self.seen is None:
            return None
        return {n: RemoteObject(kind, n, "READY", frozen_mapping({})) for n in names if n in self.seen}

    async def get(self, kind: str, name: str) -> RemoteObject | None:
        self.gets.append(name)
        return RemoteObject(kind, name, "READY", frozen_mapping({})) if name != "gone" else None

    async def list_some(self, kind: str, names: frozenset[str]) -> tuple[int, list[RemoteObject]]:
        raise AssertionError("a batch of just-created objects is read newest first, not with a whole LIST")


def _created(i: int) -> str:
    return f"2026-01-01T00:00:{i:02d}Z"


def test_a_batch_of_just_created_objects_is_read_newest_first_and_unseen_names_are_confirmed() -> None:
    names = [f"n{i}" for i in range(NEWEST_FROM)] + ["gone"]
    provider = NewestProvider(seen=set(names[:-2]))  # one real object not seen (a shifted page), one deleted
    poller = Poller(provider, {"lora": 10_000})  # type: ignore[arg-type]

    async def main() -> list[RemoteObject | None]:
        return await asyncio.gather(*(poller.get("lora", n, _created(i + 5)) for i, n in enumerate(names)))

    results = asyncio.run(main())
    assert provider.newest == [(frozenset(names), created_at(_created(5)))]  # since: the oldest asked for
    assert provider.gets == [names[-2], "gone"]
    assert [r.name if r else None for r in results] == [*names[:-1], None]


def test_waiters_without_a_create_time_and_servers_without_the_order_use_the_other_reads() -> None:
    provider = NewestProvider(seen=None)
    poller = Poller(provider, {"lora": 10_000})  # type: ignore[arg-type]
    names = [f"n{i}" for i in range(NEWEST_FROM)]

    async def batch(created: bool) -> None:
        await asyncio.gather(*(poller.get("lora", n, _created(1) if created else "") for n in names))

    asyncio.run(batch(created=False))
    assert provider.newest == [] and provider.gets == names  # unknown create times: GETs (fewer waiters than pages)
    provider.gets.clear()
    asyncio.run(batch(created=True))
    asyncio.run(batch(created=True))
    assert len(provider.newest) == 1  # refused once: that kind is not asked newest first again
    assert provider.gets == names * 2
