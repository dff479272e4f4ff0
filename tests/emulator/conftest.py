"""Fixtures for direct emulator tests: an injected clock and sync API clients over httpx.ASGITransport."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from lorainfra.emulator import Emulator, EmulatorOptions
from tests.emulator.emukit import Api, FakeClock


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def make_emulator(tmp_path: Path, clock: FakeClock) -> Iterator[Callable[..., Emulator]]:
    made: list[Emulator] = []

    def make(db: str | Path | None = None, **options: Any) -> Emulator:
        emu = Emulator(db or tmp_path / "emulator.db", EmulatorOptions(**options), clock=clock)
        made.append(emu)
        return emu

    yield make
    for emu in made:
        emu.close()


@pytest.fixture
def make_api(make_emulator: Callable[..., Emulator]) -> Iterator[Callable[..., Api]]:
    apis: list[Api] = []

    def make(token: str | None = "test-key", **options: Any) -> Api:
        api = Api(make_emulator(**options), token)
        apis.append(api)
        return api

    yield make
    for api in apis:
        api.close()


@pytest.fixture
def api(make_api: Callable[..., Api]) -> Api:
    return make_api()
