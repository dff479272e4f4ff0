"""id_from_content end to end against the served emulator: a LoRA loads ``model: model.bot``; editing the adapter
makes a new model under a new ID, and the LoRA switches to it with no gap (a sampler lists deployedModels
every 50 ms during the apply: at every sample the old or the new copy is DEPLOYED); the old model is deleted
only after the old LoRA is unloaded; destroy removes the LoRA, then the model."""

from __future__ import annotations

import json
import os
import re
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from lorainfra.emulator.process import EmulatorProcess
from lorainfra.errors import Span
from lorainfra.kinds.adapter_files import digest_files, list_files
from tests.e2e.helpers import BIN, cli
from tests.e2e.test_zero_gap import ACCOUNT, KEY, sampled_apply
from tests.models.adapters import BASE, write_adapter

ENV = {"FIREWORKS_API_KEY": KEY}
MAIN = f"provider:\n  account: {ACCOUNT}\nstate:\n  backend: local\n"
CONFIG = (f"deployments:\n  base:\n    base_model: {BASE}\n    accelerator: {{type: NVIDIA_H100_80GB, count: 1}}\n"
          "    replicas: {min: 1, max: 1}\n    addons: true\n"
          f"models:\n  bot:\n    base_model: {BASE}\n    files: adapters/bot\n    id_from_content: true\n"
          "loras:\n  bot:\n    model: model.bot\n    deployment: base\n")


@pytest.fixture
def served(tmp_path: Path) -> Iterator[str]:
    with EmulatorProcess(
        lambda port: [str(BIN), "emulator", "serve", "--port", str(port), "--db", str(tmp_path / "emu.db"),
                      "--ready-after", "0.5", "--deployed-after", "1.0", "--delete-after", "0.5", "--api-key", KEY],
        log=tmp_path / "served.log", env={**os.environ},
    ) as emu:
        yield emu.url


def _content_id(adapter: Path) -> str:
    files, problems = list_files("", adapter, Span(str(adapter)))
    assert not problems
    return f"bot-{digest_files(tuple(files))[:8]}"


def _get(url: str, name: str) -> dict | None:
    request = urllib.request.Request(f"{url}/v1/{name}", headers={"Authorization": f"Bearer {KEY}"})
    try:
        with urllib.request.urlopen(request, timeout=10) as answer:
            return json.loads(answer.read())
    except urllib.error.HTTPError as exc:
        if exc.code == 404:
            return None
        raise


def test_edited_adapter_is_a_new_model_swapped_in_with_no_gap(tmp_path: Path, served: str) -> None:
    root = tmp_path / "cfg"
    root.mkdir()
    (root / "lorainfra.yaml").write_text(MAIN)
    (root / "main.yaml").write_text(CONFIG)
    adapter = write_adapter(root / "adapters" / "bot", r=8, seed=1)
    first = _content_id(adapter)
    models = f"accounts/{ACCOUNT}/models"

    plan = cli("plan", str(root), "--endpoint", served, env=ENV)
    assert plan.code == 0, plan.out + plan.err
    assert re.search(rf'model_id +=  "{first}"'.replace("  ", " "), plan.out), plan.out
    assert re.search(rf'model +=  "{models}/{first}"'.replace("  ", " "), plan.out), plan.out
    applied = cli("apply", str(root), "--auto-approve", "--endpoint", served, env=ENV)
    assert applied.code == 0, applied.out + applied.err
    assert f"uploaded {first}/adapter_model.safetensors (" in applied.err, applied.err  # not a terminal: lines
    model = _get(served, f"{models}/{first}")
    assert model is not None and model["state"] == "READY" and model["kind"] == "HF_PEFT_ADDON", model
    state = json.loads((root / ".lorainfra" / "state.json").read_text())["resources"]
    assert state["model.bot"]["remote_name"] == f"{models}/{first}"
    assert state["lora.bot"]["attributes"]["model"] == f"{models}/{first}"
    assert cli("plan", str(root), "--detailed-exitcode", "--endpoint", served, env=ENV).code == 0

    # edit the adapter: a new ID, create before destroy, and the LoRA follows
    write_adapter(adapter, r=8, seed=2)
    second = _content_id(adapter)
    assert second != first
    plan = cli("plan", str(root), "--endpoint", served, env=ENV)
    assert plan.code == 0, plan.out + plan.err
    assert re.search(rf'model_id += "{first}" -> "{second}"', plan.out), plan.out
    assert '+/- model "bot"' in plan.out and '+/- lora "bot"' in plan.out, plan.out
    assert "destroy then create" not in plan.out, plan.out

    sampler, _, out = sampled_apply(root, served, {"bot": frozenset({f"{models}/{first}", f"{models}/{second}"})})
    assert not sampler.errors, sampler.errors
    assert sampler.samples > 0
    assert sampler.gaps == [], sampler.gaps[:3]  # at every sample the old or the new LoRA was DEPLOYED
    lines = out.splitlines()
    unloaded = next(i for i, line in enumerate(lines) if "lora.bot: delete complete" in line)
    deleting = next(i for i, line in enumerate(lines) if "model.bot: delete started" in line)
    created = next(i for i, line in enumerate(lines) if "model.bot: create complete" in line)
    assert created < unloaded < deleting, out  # new model first; the old one only after the old LoRA went
    assert _get(served, f"{models}/{first}") is None
    assert (_get(served, f"{models}/{second}") or {}).get("state") == "READY"
    assert cli("plan", str(root), "--detailed-exitcode", "--endpoint", served, env=ENV).code == 0

    destroyed = cli("destroy", str(root), "--auto-approve", "--endpoint", served, env=ENV)
    assert destroyed.code == 0, destroyed.out + destroyed.err
    lines = destroyed.out.splitlines()
    lora_done = next(i for i, line in enumerate(lines) if "lora.bot: delete complete" in line)
    model_started = next(i for i, line in enumerate(lines) if "model.bot: delete started" in line)
    assert lora_done < model_started, destroyed.out
    assert _get(served, f"{models}/{second}") is None
