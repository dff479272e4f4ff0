"""Contract fixtures: the emulator served by uvicorn on a free loopback port, and the official SDK on it."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from fireworks import Fireworks

from lorainfra.emulator import Emulator, EmulatorOptions
from tests.contract.sdkkit import API_KEY, FAST, Served


def _serve(db: Path, options: EmulatorOptions) -> tuple[Served, uvicorn.Server, threading.Thread]:
    emulator = Emulator(db, options)
    server = uvicorn.Server(uvicorn.Config(emulator.app, host="127.0.0.1", port=0, log_level="critical"))
    thread = threading.Thread(target=server.run, name="emulator", daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("emulator did not start")
        time.sleep(0.01)
    port = server.servers[0].sockets[0].getsockname()[1]
    url = f"http://127.0.0.1:{port}"
    while httpx.get(f"{url}/emulator/v1/health").status_code != 200:
        time.sleep(0.01)
    return Served(url, emulator), server, thread


@pytest.fixture
def serve_emulator(tmp_path: Path) -> Iterator[Callable[..., Served]]:
    running: list[tuple[Served, uvicorn.Server, threading.Thread]] = []

    def start(**options: Any) -> Served:
        entry = _serve(tmp_path / f"emulator-{len(running)}.db", EmulatorOptions(**{**FAST, **options}))
        running.append(entry)
        return entry[0]

    yield start
    for served, server, thread in running:
        server.should_exit = True
        thread.join(10)
        served.emulator.close()


@pytest.fixture
def served(serve_emulator: Callable[..., Served]) -> Served:
    return serve_emulator(api_key=API_KEY)


@pytest.fixture
def client(served: Served) -> Iterator[Fireworks]:
    sdk = served.sdk(max_retries=0)
    yield sdk
    sdk.close()
