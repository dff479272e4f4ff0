"""Contract fixtures: the emulator served by uvicorn on a free loopback port, and the official SDK on it."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pydantic
import pytest
import uvicorn
from fireworks import Fireworks

from lorainfra.emulator import Emulator, EmulatorOptions

API_KEY = "test-key"
ACCOUNT = "acme"
FAST = {"ready_after": 0.2, "deployed_after": 0.1, "delete_after": 0.1}


@dataclass
class Served:
    """A running emulator: its base URL and the Emulator object (for advance() and fault bookkeeping)."""

    url: str
    emulator: Emulator

    def sdk(self, **kwargs: Any) -> Fireworks:
        params: dict[str, Any] = {"base_url": self.url, "api_key": API_KEY, "account_id": ACCOUNT, **kwargs}
        return Fireworks(**params)


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


# --- strict parsing -------------------------------------------------------------------------------------


def _extras(obj: Any, path: str = "$") -> list[str]:
    found: list[str] = []
    if isinstance(obj, pydantic.BaseModel):
        found += [f"{path}.{k}" for k in (obj.model_extra or {})]
        for name in type(obj).model_fields:
            found += _extras(getattr(obj, name), f"{path}.{name}")
    elif isinstance(obj, list):
        for i, item in enumerate(obj):
            found += _extras(item, f"{path}[{i}]")
    return found


def _keys(obj: Any) -> Any:
    if isinstance(obj, dict):
        return {k: _keys(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_keys(v) for v in obj]
    return None


def strict(raw_response: Any) -> Any:
    """Parse a with_raw_response result strictly: pydantic validation, no unknown fields, same keys as the JSON."""
    raw = raw_response.http_response.json()
    parsed = raw_response.parse()
    model_type = type(parsed)
    if isinstance(parsed, pydantic.BaseModel):
        validated = model_type.model_validate(raw)  # the SDK itself only constructs (no validation)
        assert not _extras(validated), f"fields unknown to the SDK: {_extras(validated)}"
        dumped = validated.model_dump(mode="json", by_alias=True, exclude_unset=True)
        assert _keys(dumped) == _keys(raw), f"SDK view {dumped} differs from wire {raw}"
    return parsed


def strict_items(model_type: type[pydantic.BaseModel], items: list[dict[str, Any]]) -> list[Any]:
    out = []
    for item in items:
        validated = model_type.model_validate(item)
        assert not _extras(validated), f"fields unknown to the SDK: {_extras(validated)}"
        dumped = validated.model_dump(mode="json", by_alias=True, exclude_unset=True)
        assert _keys(dumped) == _keys(item)
        out.append(validated)
    return out


def wait_for(fetch: Callable[[], Any], predicate: Callable[[Any], bool], timeout: float = 5.0) -> Any:
    """Poll until predicate(fetch()) holds (state transitions observed the way a client would)."""
    deadline = time.monotonic() + timeout
    while True:
        value = fetch()
        if predicate(value):
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting; last value {value!r}")
        time.sleep(0.05)
