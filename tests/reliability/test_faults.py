"""Faults: apply converges through 429s, 503s, dropped connections and lost responses; errors name what failed."""

from __future__ import annotations

import asyncio
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from lorainfra.emulator import Emulator, EmulatorOptions
from lorainfra.engine.events import ListSink, Note
from lorainfra.engine.planner import PlanOptions
from lorainfra.providers.fireworks import RetryPolicy
from tests.reliability.kit import (
    Sleeps,
    apply_async,
    cli,
    duplicates,
    live,
    make_config,
    plan_async,
    provider_for,
    read_state,
    state_names,
)

SEEDS = range(12)
FAULT_RATE = 0.3
TOTALS: Counter[str] = Counter()


def _options(seed: int, **kw: Any) -> EmulatorOptions:
    return EmulatorOptions(ready_after=0.05, deployed_after=0.05, delete_after=0.05,
                           fault_rate=FAULT_RATE, fault_seed=seed, **kw)


@pytest.mark.parametrize("seed", SEEDS)
def test_apply_and_destroy_converge_under_faults(tmp_path: Path, seed: int) -> None:
    folder = make_config(tmp_path / "cfg", extra_deployment=True)
    db = tmp_path / "emu.db"
    emu = Emulator(db, _options(seed))
    sleeps = Sleeps()

    async def apply_then_plan() -> tuple[Any, Any]:
        provider = provider_for(emu, sleeps)
        try:
            _, result = await apply_async(folder, provider)
            again = await plan_async(folder, provider)
            return result, again
        finally:
            await provider.aclose()

    try:
        result, again = asyncio.run(apply_then_plan())
        assert result.ok, (result.failed, result.skipped)
        assert not again.plan.has_changes, [(c.address, c.action) for c in again.plan.actionable]
        injected = list(emu.faults.injected)
    finally:
        emu.close()
    objs = live(db)
    assert duplicates(objs) == {}
    assert len(objs) == 6  # 3 deployments, 3 LoRAs: each exactly once
    assert state_names(folder) == {o["name"] for o in objs}  # the state is exactly what exists
    assert read_state(folder)["pending"] == {}
    # Retry-After is honoured: every injected 429 was followed by a wait of exactly what it asked for
    assert sleeps.asked.count(1.0) >= sum(1 for f, _, _ in injected if f == "rate_limited")

    # destroy converges too (lost answers to DELETE, 404 on the retry counts as done)
    emu = Emulator(db, _options(seed + 1000))

    async def destroy() -> Any:
        provider = provider_for(emu, sleeps)
        try:
            _, result = await apply_async(folder, provider, options=PlanOptions(destroy=True))
            return result
        finally:
            await provider.aclose()

    try:
        gone = asyncio.run(destroy())
        assert gone.ok, (gone.failed, gone.skipped)
        injected += list(emu.faults.injected)
    finally:
        emu.close()
    assert live(db) == []
    assert read_state(folder)["resources"] == {}

    counts = Counter(f for f, _, _ in injected)
    TOTALS.update(counts)
    TOTALS["runs"] += 2
    TOTALS["writes faulted"] += sum(1 for _, m, _ in injected if m in ("POST", "PATCH", "DELETE"))
    print(f"seed {seed}: faults injected and survived {sum(counts.values())}: {dict(counts)}; "
          f"all {dict(TOTALS)}")
    assert sum(counts.values()) > 0  # the run really met faults


class LoseAnswers:
    """ASGI wrapper: on matching requests the server acts, then its 2xx answer is lost (connection dropped)."""

    def __init__(self, app: Any, method: str, path_suffix: str) -> None:
        self.app, self.method, self.suffix = app, method, path_suffix
        self.lost: list[str] = []

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if not (scope["type"] == "http" and scope["method"] == self.method and scope["path"].endswith(self.suffix)
                and b"validateOnly" not in scope.get("query_string", b"")):
            await self.app(scope, receive, send)
            return
        messages: list[Any] = []

        async def capture(message: Any) -> None:
            messages.append(message)

        await self.app(scope, receive, capture)
        if messages and messages[0].get("status", 500) < 300:  # the server created something: lose the answer
            self.lost.append(scope["path"])
            raise ConnectionResetError("test: answer lost after the server acted")
        for message in messages:
            await send(message)


@pytest.mark.parametrize("adopt", [True, False])
@pytest.mark.parametrize("attempts", [1, 10])
def test_lost_create_answer_resolves_by_reading(tmp_path: Path, attempts: int, adopt: bool) -> None:
    """Every create's answer is lost once; with retries (409 -> read) or none (read at once), no second object.
    With adoption refused (--no-adopt) too: the object found is our own create's, not one to adopt."""
    folder = make_config(tmp_path / "cfg")
    db = tmp_path / "emu.db"
    emu = Emulator(db, EmulatorOptions(ready_after=0.05, deployed_after=0.05))
    wrapped = LoseAnswers(LoseAnswers(emu.app, "POST", "/deployments"), "POST", "/deployedModels")
    sink = ListSink()

    async def go() -> Any:
        from lorainfra.providers.fireworks import local_provider

        provider = local_provider(wrapped, account="quickstart", api_key="k", sleep=Sleeps(),
                                  retry=RetryPolicy(max_attempts=attempts))
        try:
            _, result = await apply_async(folder, provider, sink, PlanOptions(adopt=adopt))
            again = await plan_async(folder, provider)
            return result, again
        finally:
            await provider.aclose()

    try:
        result, again = asyncio.run(go())
    finally:
        emu.close()
    assert len(wrapped.lost) == 3 and len(wrapped.app.lost) == 2  # every create lost its answer once
    assert result.ok, result.failed
    assert not again.plan.has_changes
    adopted = [e.message for e in sink.events if isinstance(e, Note) and "adopt" in e.message]
    assert len(adopted) == 5, "\n".join(adopted)  # each create was resolved by reading the live object
    objs = live(db)
    assert duplicates(objs) == {} and len(objs) == 5
    assert state_names(folder) == {o["name"] for o in objs}


def test_remaining_error_names_address_operation_and_server_message(tmp_path: Path) -> None:
    """A delete the server refuses fails with the address, the operation and the server's own message."""
    folder = str(make_config(tmp_path / "cfg"))
    assert cli("apply", folder, "--auto-approve").code == 0
    # forget a LoRA (it stays loaded): the server then refuses to delete its deployment
    assert cli("state", "rm", "lora.faq-bot", "--dir", folder).code == 0
    run = cli("destroy", folder, "--auto-approve")
    assert run.code == 1, run.out + run.err
    line = next(x for x in run.out.splitlines() if x.startswith("Failed:"))
    assert line.startswith("Failed: deployment.shared-base (delete): ")
    assert "has 1 deployed model(s) loaded" in line  # the server's message, verbatim
    assert "Destroy failed! Resources: 3 done, 1 failed, 0 skipped." in run.out
    assert "Traceback" not in run.out + run.err
    # the state still records what exists: the deployment that could not be deleted
    assert set(read_state(tmp_path / "cfg")["resources"]) == {"deployment.shared-base"}
