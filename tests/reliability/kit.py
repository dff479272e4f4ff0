"""Helpers for the reliability tests: in-process fault runs, a served emulator, live-object counts."""

from __future__ import annotations

import asyncio
import os
import re
import shutil
import subprocess
import sys
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lorainfra.config.loader import load_config
from lorainfra.emulator import Emulator, EmulatorOptions
from lorainfra.emulator.process import EmulatorProcess
from lorainfra.engine.applier import ApplyOptions, ApplyResult
from lorainfra.engine.events import ListSink
from lorainfra.engine.planner import Planned, PlanOptions, make_plan
from lorainfra.engine.session import SessionOptions, apply_session
from lorainfra.providers.fireworks import FireworksProvider, RetryPolicy, local_provider
from lorainfra.state.local import LocalBackend
from lorainfra.state.model import State

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent / "lorainfra"
ACCOUNT = "quickstart"
FAST = ApplyOptions(poll_min=0.01, poll_max=0.05)


def make_config(folder: Path, *, endpoint: str = "local", ready_after: float = 0.05, extra_deployment: bool = False) -> Path:
    """A quickstart-like config: a shared base with two LoRAs, a live-merge deployment, a serverless LoRA."""
    shutil.copytree(ROOT / "examples" / "quickstart", folder, ignore=shutil.ignore_patterns(".lorainfra"))
    cfg = folder / "lorainfra.yaml"
    text = cfg.read_text()
    text = re.sub(r"ready_after: \S+", f"ready_after: {ready_after}", text)
    text = re.sub(r"deployed_after: \S+", f"deployed_after: {ready_after}", text)
    if endpoint != "local":
        text = text.replace("endpoint: local", f"endpoint: {endpoint}")
    cfg.write_text(text)
    if extra_deployment:
        with (folder / "deployments.yaml").open("a") as f:
            f.write(
                "\n  other-base:\n"
                "    base_model: accounts/fireworks/models/llama-v3p1-8b-instruct\n"
                "    accelerator: {type: NVIDIA_H100_80GB, count: 1}\n"
                "    replicas: {min: 1, max: 1}\n"
                "    addons: true\n"
            )
    return folder


# ------------------------------------------------------------------ in-process runs


@dataclass
class Sleeps:
    """A provider sleep that records what was asked for and waits only a little (no real backoff)."""

    asked: list[float] = field(default_factory=list)

    async def __call__(self, seconds: float) -> None:
        self.asked.append(seconds)
        await asyncio.sleep(min(seconds, 0.005))


def provider_for(emu: Emulator, sleeps: Sleeps | None = None, **kw: Any) -> FireworksProvider:
    return local_provider(emu.app, account=ACCOUNT, api_key="test-key", sleep=sleeps or Sleeps(),
                          retry=kw.pop("retry", RetryPolicy(max_attempts=10)), max_rps=0, **kw)


def backend_for(folder: Path) -> LocalBackend:
    return LocalBackend(folder / ".lorainfra" / "state.json", who="reliability-test")


async def plan_async(folder: Path, provider: FireworksProvider, options: PlanOptions = PlanOptions()) -> Planned:
    backend = backend_for(folder)
    return await make_plan(load_config(str(folder)), provider, backend.read() or State.new(), ListSink(), options)


async def apply_async(folder: Path, provider: FireworksProvider, sink: ListSink | None = None,
                      options: PlanOptions = PlanOptions()) -> tuple[Planned, ApplyResult]:
    outcome = await apply_session(
        load_config(str(folder)), provider, backend_for(folder), plan_sink=ListSink(),
        apply_sink=lambda _: sink or ListSink(),
        options=SessionOptions(plan=options, apply=FAST, operation="destroy" if options.destroy else "apply"))
    planned = outcome.planned
    assert not planned.plan.errors, planned.plan.errors
    assert outcome.result is not None, "the plan had nothing to apply"
    return planned, outcome.result


# ------------------------------------------------------------------ live objects


def live(db: Path) -> list[dict[str, Any]]:
    """Every live (not deleted) deployment and deployed model in the emulator db, read without faults."""
    emu = Emulator(db, EmulatorOptions())
    try:
        async def go() -> list[dict[str, Any]]:
            provider = local_provider(emu.app, account=ACCOUNT, api_key="test-key")
            try:
                obs = await provider.refresh()
            finally:
                await provider.aclose()
            return [{"name": o.name, "kind": o.kind, "state": o.state, **dict(o.attributes)}
                    for o in obs.objects.values()
                    if o.state not in ("DELETED", "DELETING") and o.kind in ("deployment", "lora")]
        return asyncio.run(go())
    finally:
        emu.close()


def identity(obj: dict[str, Any]) -> str:
    """What makes an object 'the same resource': the deployment name, or LoRA model + where it is loaded."""
    if obj["kind"] == "deployment":
        return obj["name"]
    where = "serverless" if obj.get("serverless") else obj.get("deployment", "")
    return f"lora:{obj.get('model')}@{where}"


def duplicates(objs: list[dict[str, Any]]) -> dict[str, int]:
    counts = Counter(identity(o) for o in objs)
    return {k: n for k, n in counts.items() if n > 1}


def read_state(folder: Path) -> dict[str, Any]:
    """The current state document: the file with its change log applied (a killed run may leave one)."""
    from lorainfra.state.local import LocalBackend

    state = LocalBackend(folder / ".lorainfra" / "state.json", who="test").read()
    assert state is not None, f"no state in {folder}"
    return state.to_json()


def state_names(folder: Path) -> set[str]:
    doc = read_state(folder)
    return {r["remote_name"] for r in doc["resources"].values()}


# ------------------------------------------------------------------ served emulator




class Served(EmulatorProcess):
    """``lorainfra emulator serve`` in a subprocess on a free loopback port."""

    def __init__(self, db: Path, *args: str) -> None:
        self.db = db
        super().__init__(
            lambda port: [str(BIN), "emulator", "serve", "--port", str(port), "--db", str(db), *args],
            log=db.with_suffix(".log"), env=clean_env(),
        )


def clean_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("FIREWORKS_", "LORAINFRA_"))}
    env.update(extra)
    return env


@dataclass
class Run:
    code: int
    out: str
    err: str


def cli(*args: str, env: dict[str, str] | None = None, timeout: float = 120) -> Run:
    proc = subprocess.run([str(BIN), *args], env=env or clean_env(FIREWORKS_API_KEY="test-key"),
                          capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL)
    return Run(proc.returncode, proc.stdout, proc.stderr)
