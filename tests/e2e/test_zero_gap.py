"""Zero-gap proof (issue 12): a LoRA version bump and a move between deployments, applied against the
served emulator while a sampler lists deployedModels every 50 ms: at every sample the old or the new
copy of each LoRA is DEPLOYED (create before destroy). A correctness property, not a timing one: the
sampler stops when the apply has returned, and the number of gap samples must be 0."""

from __future__ import annotations

import json
import os
import threading
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from lorainfra.emulator.process import EmulatorProcess
from tests.e2e.helpers import BIN, cli

KEY = "gap-key-123"
ACCOUNT = "quickstart"
MODELS = f"accounts/{ACCOUNT}/models"
LLAMA_8B = "accounts/fireworks/models/llama-v3p1-8b-instruct"


@pytest.fixture
def served(tmp_path: Path) -> Iterator[str]:
    seed = tmp_path / "seed.json"
    seed.write_text(json.dumps({"models": [
        {"name": f"{MODELS}/support-bot-v4", "kind": "HF_PEFT_ADDON", "state": "READY",
         "peftDetails": {"baseModel": LLAMA_8B, "r": 16, "targetModules": ["q_proj", "v_proj"]}}]}))
    # loads and unloads long enough that a destroy-first replacement is seen by many samples
    with EmulatorProcess(
        lambda port: [str(BIN), "emulator", "serve", "--port", str(port), "--db", str(tmp_path / "gap.db"),
                      "--seed", str(seed), "--ready-after", "0.5", "--deployed-after", "1.0",
                      "--delete-after", "0.5", "--api-key", KEY],
        log=tmp_path / "served.log", env={**os.environ},
    ) as emu:
        yield emu.url


@dataclass
class Sampler:
    """Lists deployedModels every 50 ms until stopped; counts samples where a LoRA has no DEPLOYED copy."""

    url: str
    wanted: dict[str, frozenset[str]]  # LoRA -> the models (old or new) any DEPLOYED copy of which serves it
    stop: threading.Event = field(default_factory=threading.Event)
    samples: int = 0
    gaps: list[tuple[str, list[tuple[str, str, str]]]] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    def list_loaded(self) -> list[tuple[str, str, str]]:
        request = urllib.request.Request(f"{self.url}/v1/accounts/{ACCOUNT}/deployedModels?pageSize=200",
                                         headers={"Authorization": f"Bearer {KEY}"})
        with urllib.request.urlopen(request, timeout=10) as answer:
            body = json.loads(answer.read())
        return [(m["model"], m.get("deployment", ""), m.get("state", "")) for m in body.get("deployedModels", [])]

    def run(self) -> None:
        while not self.stop.is_set():
            try:
                loaded = self.list_loaded()
            except OSError as exc:  # recorded, never hidden: the test fails on it
                self.errors.append(str(exc))
                return
            self.samples += 1
            deployed = {model for model, _, state in loaded if state == "DEPLOYED"}
            for lora, models in self.wanted.items():
                if not deployed & models:
                    self.gaps.append((lora, loaded))
            self.stop.wait(0.05)


def sampled_apply(folder: Path, url: str, wanted: dict[str, frozenset[str]]) -> tuple[Sampler, float, str]:
    sampler = Sampler(url, wanted)
    assert sampler.list_loaded(), "nothing is loaded before the change"
    thread = threading.Thread(target=sampler.run)
    thread.start()
    started = time.monotonic()
    try:
        result = cli("apply", str(folder), "--auto-approve", "--endpoint", url, env={"FIREWORKS_API_KEY": KEY})
    finally:
        elapsed = time.monotonic() - started
        sampler.stop.set()
        thread.join()
    assert result.code == 0, result.out + result.err
    return sampler, elapsed, result.out


def test_version_bump_and_move_between_deployments_never_leave_a_lora_unserved(
    quickstart: Path, served: str
) -> None:
    env = {"FIREWORKS_API_KEY": KEY}
    assert cli("apply", str(quickstart), "--auto-approve", "--endpoint", served, env=env).code == 0
    loras = quickstart / "loras.yaml"

    # 1. version bump: support-bot v3 -> v4 on the same deployment
    loras.write_text(loras.read_text().replace("support-bot-v3", "support-bot-v4"))
    plan = cli("plan", str(quickstart), "--endpoint", served, env=env)
    assert "+/- lora \"support-bot\"" in plan.out and "create before destroy" in plan.out, plan.out
    bump, bump_time, _ = sampled_apply(
        quickstart, served, {"support-bot": frozenset({f"{MODELS}/support-bot-v3", f"{MODELS}/support-bot-v4"})})

    # 2. move: faq-bot from shared-base to a new deployment (created in the same apply)
    deployments = quickstart / "deployments.yaml"
    deployments.write_text(deployments.read_text() + (
        "\n  faq-base:\n"
        f"    base_model: {LLAMA_8B}\n"
        "    accelerator: {type: NVIDIA_H100_80GB, count: 1}\n"
        "    replicas: {min: 1, max: 1}\n"
        "    addons: true\n"))
    loras.write_text(loras.read_text().replace(
        "faq-bot-v1\n    deployment: shared-base", "faq-bot-v1\n    deployment: faq-base"))
    move, move_time, _ = sampled_apply(quickstart, served, {"faq-bot": frozenset({f"{MODELS}/faq-bot-v1"})})

    print(f"\nzero-gap: version bump {bump.samples} samples, {len(bump.gaps)} gap samples, apply {bump_time:.2f}s; "
          f"move {move.samples} samples, {len(move.gaps)} gap samples, apply {move_time:.2f}s")
    assert not bump.errors and not move.errors, (bump.errors, move.errors)
    assert bump.samples > 0 and move.samples > 0
    assert bump.gaps == [], bump.gaps[:3]
    assert move.gaps == [], move.gaps[:3]

    # the end state: the new copies serve, the old ones are gone, and nothing is left to do
    loaded = sorted((m, d, s) for m, d, s in Sampler(served, {}).list_loaded())
    assert (f"{MODELS}/support-bot-v3", f"accounts/{ACCOUNT}/deployments/shared-base", "DEPLOYED") not in loaded
    assert [d for m, d, _ in loaded if m == f"{MODELS}/faq-bot-v1"] == [f"accounts/{ACCOUNT}/deployments/faq-base"]
    again = cli("plan", str(quickstart), "--detailed-exitcode", "--endpoint", served, env=env)
    assert again.code == 0, again.out + again.err
