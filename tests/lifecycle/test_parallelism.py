"""--parallelism bounds operations that send requests; waiting for readiness never holds a slot."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from lorainfra.config.loader import load_config
from lorainfra.emulator import Emulator, EmulatorOptions
from lorainfra.engine.applier import Applier, ApplyOptions
from lorainfra.engine.events import ListSink, OperationFinished, OperationProgress, OperationStarted
from lorainfra.engine.planner import PlanOptions, make_plan
from lorainfra.providers.fireworks import FireworksProvider, local_provider
from lorainfra.state.model import State


class CountingProvider:
    """Wraps the real provider; counts how many creates are in flight at once."""

    def __init__(self, inner: FireworksProvider) -> None:
        self.inner = inner
        self.active = 0
        self.peak = 0

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    async def create(self, *args: Any, **kwargs: Any) -> Any:
        if kwargs.get("validate_only"):
            return await self.inner.create(*args, **kwargs)
        self.active += 1
        self.peak = max(self.peak, self.active)
        try:
            await asyncio.sleep(0)  # a loop turn inside the call: a second create the limiter let through runs now
            return await self.inner.create(*args, **kwargs)
        finally:
            self.active -= 1


class ReleaseWhenAllWait(ListSink):
    """Moves the emulated clock past ``ready_after`` once ``count`` operations are waiting for READY (a condition)."""

    def __init__(self, count: int, now: list[float]) -> None:
        super().__init__()
        self.count, self.now = count, now
        self.waiting: set[str] = set()

    def emit(self, event: Any) -> None:
        super().emit(event)
        if isinstance(event, OperationProgress) and event.operation == "wait" and event.address not in self.waiting:
            self.waiting.add(event.address)
            if len(self.waiting) == self.count:
                self.now[0] += 60


def write_fleet(folder: Path, n: int) -> None:
    folder.mkdir()
    (folder / "lorainfra.yaml").write_text("provider:\n  account: quickstart\n  endpoint: local\n")
    body = "".join(
        f"  d{i}:\n    base_model: accounts/fireworks/models/llama-v3p1-8b-instruct\n"
        f"    accelerator: {{type: NVIDIA_H100_80GB, count: 1}}\n    addons: true\n"
        for i in range(n)
    )
    (folder / "deployments.yaml").write_text("deployments:\n" + body)


def test_waits_overlap_even_with_parallelism_one(tmp_path: Path) -> None:
    folder = tmp_path / "fleet"
    write_fleet(folder, 4)
    # emulated time stands still until every deployment is created and waiting for READY: with parallelism 1
    # that happens only if a wait does not hold the slot (else the run never ends); then time moves, all finish
    now = [1_800_000_000.0]
    emu = Emulator(tmp_path / "emu.db", EmulatorOptions(ready_after=1, deployed_after=0.05), clock=lambda: now[0])
    sink = ReleaseWhenAllWait(4, now)

    async def go() -> tuple[CountingProvider, Any]:
        provider = CountingProvider(local_provider(emu.app, account="quickstart", api_key="k", max_rps=0))
        try:
            planned = await make_plan(load_config(folder), provider, State.new(), ListSink(), PlanOptions())  # type: ignore[arg-type]
            applier = Applier(provider, None, planned.state, sink,  # type: ignore[arg-type]
                              ApplyOptions(parallelism=1, poll_min=0.01, poll_max=0.05))
            # the limit only guards against a wait that holds the slot (the clock would never move: no end)
            return provider, await asyncio.wait_for(applier.run(planned.plan), timeout=60)
        finally:
            await provider.inner.aclose()

    try:
        provider, result = asyncio.run(go())
    finally:
        emu.close()
    assert result.ok
    # never more than one create request in flight ...
    assert provider.peak == 1
    # ... yet every deployment was started before any finished: their waits for READY overlapped
    order = [(type(e).__name__, e.address) for e in sink.events if isinstance(e, OperationStarted | OperationFinished)]
    last_start = max(i for i, (kind, _) in enumerate(order) if kind == "OperationStarted")
    first_finish = min(i for i, (kind, _) in enumerate(order) if kind == "OperationFinished")
    assert last_start < first_finish, order
