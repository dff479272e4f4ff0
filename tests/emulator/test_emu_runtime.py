"""Clock endpoints, persistence across instances, health, faults with a fixed seed, seed files."""

from __future__ import annotations

import asyncio
import threading
import time
from pathlib import Path

import httpx
import pytest
import uvicorn

from lorainfra.emulator import Emulator, EmulatorOptions
from lorainfra.emulator.faults import InjectedDisconnect
from lorainfra.emulator.server import build, load_seed_file, uvicorn_config
from tests.emulator.emukit import ACCOUNT, Api, FakeClock, MakeApi, assert_rpc_error, ready_deployment

D = f"/v1/accounts/{ACCOUNT}/deployments"


def test_persistence_across_instances(tmp_path: Path, clock: FakeClock) -> None:
    db = tmp_path / "shared.db"
    one, two = Emulator(db, clock=clock), Emulator(db, clock=clock)
    a, b = Api(one), Api(two)
    try:
        a.create_deployment("shared")
        assert b.deployment("shared").json()["state"] == "CREATING"
        one.advance(5)
        assert b.deployment("shared").json()["state"] == "READY"
        assert two.now() == one.now() == clock.t + 5
    finally:
        a.close()
        b.close()
        one.close()
        two.close()
    three = Emulator(db, clock=clock)
    c = Api(three)
    try:
        assert c.deployment("shared").json()["state"] == "READY"
    finally:
        c.close()
        three.close()


def test_store_is_wal_synchronous_normal_and_other_connections_see_commits(tmp_path: Path) -> None:
    """WAL with synchronous=NORMAL: an OS crash loses at most the last commits, never the file; commits are shared."""
    first = Emulator(tmp_path / "e.db", clock=lambda: 1000.0)
    second = Emulator(tmp_path / "e.db", clock=lambda: 1000.0)
    try:
        conn = first.store._conn
        assert conn.execute("PRAGMA synchronous").fetchone()[0] == 1  # NORMAL
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        first.advance(5)
        assert second.now() == 1005.0
    finally:
        first.close()
        second.close()


def test_clock_endpoints(api: Api, clock: FakeClock) -> None:
    now = api.get("/emulator/v1/clock").json()["now"]
    assert now.startswith("2025-06-15T") and now.endswith("Z")
    api.create_deployment("d")
    resp = api.post("/emulator/v1/clock:advance", json={"seconds": 3600})
    assert resp.status_code == 200 and resp.json()["now"].startswith("2025-06-15T16:")
    assert api.deployment("d").json()["state"] == "READY"
    assert_rpc_error(api.post("/emulator/v1/clock:advance", json={"seconds": -1}), 3, 400)
    with pytest.raises(ValueError):
        api.emu.advance(-1)


def test_health_needs_no_auth_but_clock_does(make_api: MakeApi) -> None:
    anon = make_api(token=None)
    assert anon.get("/emulator/v1/health").json()["status"] == "ok"
    assert_rpc_error(anon.get("/emulator/v1/clock"), 16, 401)


def test_http_layer_without_starlette_router(api: Api, tmp_path: Path) -> None:
    """The inner app answers like the starlette route it replaced: 405 for other methods, HEAD reaches the
    dispatcher, query strings parse the same way (last value wins, blank values kept), lifespan completes."""
    assert not hasattr(api.emu, "starlette_app")  # no router/middleware stack per request (issue 16)
    options = api.call("OPTIONS", D)
    assert options.status_code == 405 and options.text == "Method Not Allowed"
    assert options.headers["allow"] == "GET, POST, PATCH, PUT, DELETE, HEAD"
    assert api.call("HEAD", D).status_code == 501
    for i in range(3):
        api.create_deployment(f"d{i}")
    assert len(api.get(D + "?pageSize=1&pageSize=2").json()["deployments"]) == 2
    assert api.get(D + "?filter=&pageSize=1").json()["nextPageToken"]
    assert_rpc_error(api.get(D, headers={"Authorization": ""}), 16, 401)

    sent: list[dict[str, str]] = []
    messages = iter([{"type": "lifespan.startup"}, {"type": "lifespan.shutdown"}])

    async def receive() -> dict[str, str]:
        return next(messages)

    async def send(message: dict[str, str]) -> None:
        sent.append(message)

    asyncio.run(api.emu.http_app({"type": "lifespan"}, receive, send))
    assert [m["type"] for m in sent] == ["lifespan.startup.complete", "lifespan.shutdown.complete"]


def _run_many(api: Api, n: int) -> dict[str, int]:
    outcomes: dict[str, int] = {}
    for _ in range(n):
        try:
            status = str(api.get(D).status_code)
        except InjectedDisconnect:
            status = "disconnect"
        outcomes[status] = outcomes.get(status, 0) + 1
    return outcomes


def test_faults_are_seeded_and_spare_emulator_paths(make_api: MakeApi) -> None:
    first = _run_many(make_api(fault_rate=0.5, fault_seed=7), 80)
    second = _run_many(make_api(fault_rate=0.5, fault_seed=7), 80)
    assert first == second
    assert set(first) == {"200", "429", "503", "disconnect"}
    assert 20 <= first["200"] <= 60
    noisy = make_api(fault_rate=1.0, fault_seed=1)
    for _ in range(10):
        assert noisy.get("/emulator/v1/health").status_code == 200
        assert noisy.get("/emulator/v1/clock").status_code == 200


def test_fault_bodies_and_headers(make_api: MakeApi) -> None:
    api = make_api(fault_rate=1.0, fault_seed=3)
    seen: set[str] = set()
    for _ in range(40):
        try:
            resp = api.get(D)
        except InjectedDisconnect:
            continue
        seen.add(str(resp.status_code))
        if resp.status_code == 429:
            assert resp.headers["retry-after"] == "1"
            assert_rpc_error(resp, 8, 429)
        else:
            assert_rpc_error(resp, 14, 503)
    assert seen == {"429", "503"}


def test_lost_response_still_performs_the_operation(make_api: MakeApi, clock: FakeClock) -> None:
    api = make_api(fault_rate=1.0, fault_seed=0)
    faults = api.emu.faults
    created = 0
    for i in range(30):
        try:
            api.create_deployment(f"d{i}")
        except InjectedDisconnect:
            if faults.injected[-1][0] == "lost_response":
                created += 1
    assert created > 0
    with api.emu.store.tx() as db:
        stored = db.execute("SELECT COUNT(*) FROM deployments").fetchone()[0]
    assert stored == created


def test_latency(make_api: MakeApi) -> None:
    api = make_api(latency_ms=50)
    start = time.perf_counter()
    api.get(D)
    assert time.perf_counter() - start >= 0.05


def test_served_emulator_drops_connections(tmp_path: Path) -> None:
    """Through a real socket the drop fault is a connection error, not a 500."""
    emu = Emulator(tmp_path / "e.db", EmulatorOptions(fault_rate=1.0, fault_seed=5))
    config = uvicorn_config(emu.app, host="127.0.0.1", port=0, log_level="critical")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        while not server.started:
            threading.Event().wait(0.01)
        port = server.servers[0].sockets[0].getsockname()[1]
        errors = 0
        with httpx.Client(
            base_url=f"http://127.0.0.1:{port}", headers={"Authorization": "Bearer k"}
        ) as client:
            for _ in range(12):
                try:
                    client.get(D)
                except httpx.TransportError:
                    errors += 1
        kinds = [k for k, _, _ in emu.faults.injected]
        assert errors == kinds.count("drop") + kinds.count("lost_response") > 0
    finally:
        server.should_exit = True
        thread.join(5)
        emu.close()


def test_served_emulator_parses_http_with_httptools() -> None:
    """The served emulator names httptools, a dependency: uvicorn's h11 fallback costs ~20% more CPU per request."""
    from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

    config = uvicorn_config(object(), host="127.0.0.1", port=0)
    assert config.http == "httptools"
    config.load()
    assert config.http_protocol_class is HttpToolsProtocol


def test_seed_file(tmp_path: Path) -> None:
    seed = tmp_path / "seed.yaml"
    seed.write_text(
        "models:\n  - name: accounts/acme/models/from-file\n    peftDetails:\n"
        "      baseModel: accounts/fireworks/models/llama-v3p1-8b-instruct\n      r: 8\n"
        "      targetModules: [q_proj]\n"
    )
    emu = build(str(tmp_path / "e.db"), EmulatorOptions(), str(seed))
    api = Api(emu)
    try:
        assert api.get("/v1/accounts/acme/models/from-file").json()["state"] == "READY"
    finally:
        api.close()
        emu.close()
    bad = tmp_path / "bad.json"
    bad.write_text('{"models": [{"noname": 1}]}')
    with pytest.raises(ValueError):
        load_seed_file(str(bad))


def test_undelete_after_idle_drift(api: Api, clock: FakeClock) -> None:
    ready_deployment(api, clock, minReplicaCount=0)
    api.emu.advance(8 * 86400)
    assert api.deployment("base").json()["state"] == "DELETED"
    assert api.post(f"{D}/base:undelete", json={}).json()["state"] == "CREATING"
