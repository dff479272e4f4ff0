"""Models end to end through the console script and the in-process emulator: upload, load, swap, destroy."""

from __future__ import annotations

import json
from pathlib import Path

from tests.e2e.helpers import cli
from tests.models.adapters import BASE, write_adapter

MAIN = ("provider:\n  account: acme\n  endpoint: local\n  emulator: {ready_after: 0s, deployed_after: 0s}\n"
        "state:\n  backend: local\n")
DEPLOYMENT = (f"deployments:\n  base:\n    base_model: {BASE}\n    accelerator: {{type: NVIDIA_H100_80GB, count: 1}}\n"
              "    replicas: {min: 1, max: 1}\n    addons: true\n")


def _models(version: str) -> str:
    return f"models:\n  bot-{version}:\n    base_model: {BASE}\n    files: adapters/bot\n    display_name: Bot {version}\n"


def _state(root: Path) -> dict:
    return json.loads((root / ".lorainfra" / "state.json").read_text())


def test_upload_load_change_and_destroy(tmp_path: Path) -> None:
    root = tmp_path
    (root / "lorainfra.yaml").write_text(MAIN)
    (root / "deployments.yaml").write_text(DEPLOYMENT)
    (root / "models.yaml").write_text(_models("v1"))
    write_adapter(root / "adapters" / "bot", r=8, seed=1)

    plan = cli("plan", str(root))
    assert plan.code == 0, plan.out + plan.err
    assert '+ model "bot-v1"' in plan.out, plan.out
    applied = cli("apply", str(root), "--auto-approve")
    assert applied.code == 0, applied.out + applied.err
    record = _state(root)["resources"]["model.bot-v1"]
    assert record["remote_name"] == "accounts/acme/models/bot-v1"
    assert len(record["attributes"]["digest"]) == 64 and record["attributes"]["rank"] == 8
    assert cli("plan", str(root), "--detailed-exitcode").code == 0  # uploaded, READY, nothing to do

    # load it onto the deployment
    (root / "loras.yaml").write_text("loras:\n  bot:\n    model: accounts/acme/models/bot-v1\n    deployment: base\n")
    loaded = cli("apply", str(root), "--auto-approve")
    assert loaded.code == 0, loaded.out + loaded.err
    assert cli("plan", str(root), "--detailed-exitcode").code == 0

    # the same ID with other weights: immutable on Fireworks, so the plan says it replaces the model
    write_adapter(root / "adapters" / "bot", r=8, seed=2)
    changed = cli("plan", str(root), "--detailed-exitcode")
    assert changed.code == 2, changed.out + changed.err
    assert 'model "bot-v1" must be replaced' in changed.out or "-/+" in changed.out, changed.out
    assert "digest" in changed.out and "forces replacement" in changed.out, changed.out

    # a new version under a new ID: the LoRA switches to it; the old model is deleted after the LoRA
    (root / "models.yaml").write_text(_models("v2"))
    (root / "loras.yaml").write_text("loras:\n  bot:\n    model: accounts/acme/models/bot-v2\n    deployment: base\n")
    swap_plan = cli("plan", str(root))
    assert '+ model "bot-v2"' in swap_plan.out and '- model "bot-v1"' in swap_plan.out, swap_plan.out
    swapped = cli("apply", str(root), "--auto-approve")
    assert swapped.code == 0, swapped.out + swapped.err
    assert sorted(_state(root)["resources"]) == ["deployment.base", "lora.bot", "model.bot-v2"]
    assert cli("plan", str(root), "--detailed-exitcode").code == 0

    destroyed = cli("destroy", str(root), "--auto-approve")
    assert destroyed.code == 0, destroyed.out + destroyed.err
    lines = destroyed.out.splitlines() + destroyed.err.splitlines()
    lora_done = next(i for i, line in enumerate(lines) if "lora.bot: delete complete" in line)
    model_started = next(i for i, line in enumerate(lines) if "model.bot-v2: delete started" in line)
    assert lora_done < model_started, destroyed.out + destroyed.err  # the model goes after its LoRA
    assert _state(root)["resources"] == {}
