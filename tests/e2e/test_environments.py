"""examples/environments end to end (issue 15): staging and prod from one folder, a LoRA bump rolled to
staging first (an overlay), then promoted to prod; each environment has its own state."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.conftest import EXAMPLES, fast_copy
from tests.e2e.helpers import cli


@pytest.fixture
def envs(tmp_path: Path) -> Path:
    return fast_copy(EXAMPLES / "environments", tmp_path / "environments")


def state_of(folder: Path, env: str) -> dict[str, dict[str, object]]:
    doc = json.loads((folder / ".lorainfra" / "workspaces" / env / "state.json").read_text())
    resources: dict[str, dict[str, object]] = doc["resources"]
    return resources


def test_a_folder_with_environments_refuses_to_run_without_one(envs: Path) -> None:
    r = cli("plan", str(envs))
    assert r.code == 1 and "Traceback" not in r.err
    assert "lorainfra.yaml:25:1: error: this folder declares environments (staging, prod); choose one" in r.err
    unknown = cli("plan", str(envs), "--env", "prdo")
    assert unknown.code == 1 and "unknown environment 'prdo'" in unknown.err and "did you mean 'prod'?" in unknown.err


def test_staging_first_then_promote_to_prod(envs: Path) -> None:
    folder = str(envs)
    staging = cli("--env", "staging", "apply", folder, "--auto-approve")
    assert staging.code == 0, staging.out + staging.err
    prod = cli("apply", folder, "--auto-approve", env={"LORAINFRA_ENV": "prod"})
    assert prod.code == 0, prod.out + prod.err

    s, p = state_of(envs, "staging"), state_of(envs, "prod")
    assert s["lora.support-bot"]["attributes"]["model"] == "accounts/acme-models/models/support-bot-v2"  # overlay
    assert p["lora.support-bot"]["attributes"]["model"] == "accounts/acme-models/models/support-bot-v1"
    assert str(s["lora.support-bot"]["remote_name"]).startswith("accounts/acme-staging/deployedModels/")
    assert str(p["lora.support-bot"]["remote_name"]).startswith("accounts/acme-prod/deployedModels/")
    assert s["deployment.shared-base"]["attributes"]["max_replica_count"] == 1  # the variable's default
    assert p["deployment.shared-base"]["attributes"]["max_replica_count"] == 3  # prod's value
    assert not (envs / ".lorainfra" / "state.json").exists()
    s_lineage = json.loads((envs / ".lorainfra/workspaces/staging/state.json").read_text())["lineage"]
    assert s_lineage != json.loads((envs / ".lorainfra/workspaces/prod/state.json").read_text())["lineage"]

    # what apps call, per environment
    shown = cli("output", folder, "--env", "staging")
    assert shown.code == 0, shown.err
    assert ("lora.support-bot        accounts/acme-models/models/support-bot-v2#accounts/acme-staging/deployments/"
            "shared-base  (addon)") in shown.out
    written = cli("--env", "prod", "output", folder, "--json", "--out", str(envs / "prod-outputs.json"))
    assert written.code == 0, written.err
    doc = json.loads((envs / "prod-outputs.json").read_text())
    assert doc == json.loads(written.out) and doc["environment"] == "prod"
    assert doc["outputs"]["lora.support-bot"]["call"] == (
        "accounts/acme-models/models/support-bot-v1#accounts/acme-prod/deployments/shared-base")
    assert doc["outputs"]["deployment.shared-base"]["call"] == "accounts/acme-prod/deployments/shared-base"

    # promotion: the bump moves into the shared file, the overlay goes
    loras = envs / "loras.yaml"
    loras.write_text(loras.read_text().replace("support-bot-v1", "support-bot-v2"))
    (envs / "env" / "staging" / "support-bot.yaml").unlink()
    unchanged = cli("plan", folder, "--env", "staging", "--detailed-exitcode")
    assert unchanged.code == 0, unchanged.out + unchanged.err
    planned = cli("plan", folder, "--env=prod", "--detailed-exitcode")
    assert planned.code == 2 and "support-bot-v2" in planned.out, planned.out + planned.err
    promoted = cli("--env", "prod", "apply", folder, "--auto-approve")
    assert promoted.code == 0, promoted.out + promoted.err
    assert state_of(envs, "prod")["lora.support-bot"]["attributes"]["model"] == (
        "accounts/acme-models/models/support-bot-v2")
    assert cli("plan", folder, "--env", "prod", "--detailed-exitcode").code == 0


def test_var_flag_and_wrong_type(envs: Path) -> None:
    ok = cli("plan", str(envs), "--env", "staging", "--var", "max_replicas=2")
    assert ok.code == 0 and "max_replica_count = 2" in ok.out, ok.out + ok.err
    bad = cli("plan", str(envs), "--env", "staging", "--var", "max_replicas=lots")
    assert bad.code == 1 and "Traceback" not in bad.err
    assert "--var max_replicas='lots': variable max_replicas is integer" in bad.err
