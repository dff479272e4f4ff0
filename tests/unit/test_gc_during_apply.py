"""While an apply runs, the objects alive at its start are frozen out of full collections (issue 16)."""

from __future__ import annotations

import asyncio
import gc
from pathlib import Path
from typing import Any

import pytest

from lorainfra.config.loader import load_config
from lorainfra.emulator import Emulator, EmulatorOptions
from lorainfra.engine.applier import Applier, ApplyOptions
from lorainfra.engine.events import ListSink, OperationStarted
from lorainfra.engine.heap import FULL_COLLECTION_EVERY, long_lived_frozen
from lorainfra.engine.planner import PlanOptions, make_plan
from lorainfra.providers.fireworks import local_provider
from lorainfra.state.model import State


class CollectorSeen(ListSink):
    """Records the collector's frozen count and thresholds as each operation starts."""

    def __init__(self) -> None:
        super().__init__()
        self.seen: list[tuple[int, tuple[int, int, int]]] = []

    def emit(self, event: Any) -> None:
        super().emit(event)
        if isinstance(event, OperationStarted):
            self.seen.append((gc.get_freeze_count(), gc.get_threshold()))


def test_the_apply_runs_with_the_heap_frozen_and_restores_the_collector(tmp_path: Path) -> None:
    folder = tmp_path / "cfg"
    folder.mkdir()
    (folder / "lorainfra.yaml").write_text("provider:\n  account: quickstart\n  endpoint: local\n")
    (folder / "deployments.yaml").write_text(
        "deployments:\n  d1:\n    base_model: accounts/fireworks/models/llama-v3p1-8b-instruct\n"
        "    accelerator: {type: NVIDIA_H100_80GB, count: 1}\n")
    emu = Emulator(tmp_path / "emu.db", EmulatorOptions(ready_after=0, deployed_after=0))
    sink = CollectorSeen()
    before = (gc.get_freeze_count(), gc.get_threshold())

    async def go() -> Any:
        provider = local_provider(emu.app, account="quickstart", api_key="k", max_rps=0)
        try:
            planned = await make_plan(load_config(folder), provider, State.new(), ListSink(), PlanOptions())
            applier = Applier(provider, None, planned.state, sink, ApplyOptions(poll_min=0.01, poll_max=0.05))
            return await asyncio.wait_for(applier.run(planned.plan), timeout=60)
        finally:
            await provider.aclose()

    try:
        result = asyncio.run(go())
    finally:
        emu.close()
    assert result.ok
    assert before[0] == 0
    (frozen, thresholds), = sink.seen
    assert frozen > 1000  # the modules, config and plan alive at the start are out of full collections
    assert thresholds == (before[1][0], before[1][1], max(before[1][2], FULL_COLLECTION_EVERY))
    assert (gc.get_freeze_count(), gc.get_threshold()) == before  # restored after the run


def test_an_already_frozen_heap_is_left_as_it_is() -> None:
    gc.freeze()
    try:
        frozen, thresholds = gc.get_freeze_count(), gc.get_threshold()
        with long_lived_frozen():
            assert (gc.get_freeze_count(), gc.get_threshold()) == (frozen, thresholds)
        assert gc.get_freeze_count() == frozen  # not unfrozen by the inner block
    finally:
        gc.unfreeze()


def test_a_disabled_collector_is_left_alone() -> None:
    gc.disable()
    try:
        with long_lived_frozen():
            assert gc.get_freeze_count() == 0
    finally:
        gc.enable()


def test_a_command_runs_with_rarer_collections_and_restores_the_thresholds() -> None:
    # issue 16: at CPython's 700 a 10,700-resource plan spent about 1 s of its 3.2 s of CPU collecting objects
    # that live to the end of the command
    from lorainfra.engine.heap import YOUNG_COLLECTION_EVERY, fewer_collections

    before = gc.get_threshold()
    with fewer_collections():
        inside = gc.get_threshold()
    assert inside[0] >= YOUNG_COLLECTION_EVERY > before[0]
    assert gc.get_threshold() == before


def test_the_cli_entry_point_runs_its_command_with_rarer_collections(monkeypatch: pytest.MonkeyPatch) -> None:
    from lorainfra.cli import app as cli_app
    from lorainfra.engine.heap import YOUNG_COLLECTION_EVERY

    seen: list[tuple[int, int, int]] = []
    monkeypatch.setattr(cli_app, "app", lambda **kw: seen.append(gc.get_threshold()))
    before = gc.get_threshold()
    cli_app.main(["version"])
    assert seen and seen[0][0] >= YOUNG_COLLECTION_EVERY
    assert gc.get_threshold() == before
