"""The CI review loop through the CLI: saved plans, stale refusal, drift, import, state moves, markdown/JSON."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Any

import httpx
import jsonschema
import pytest

from lorainfra.emulator import Emulator, EmulatorOptions
from tests.e2e.helpers import cli

ROOT = Path(__file__).resolve().parents[2]
PLAN_SCHEMA = json.loads((ROOT / "schemas" / "plan.schema.json").read_text())


def behind_our_back(folder: Path, method: str, path: str, **kw: Any) -> httpx.Response:
    """Call the emulated account directly, the way a colleague with firectl would."""
    emu = Emulator(folder / ".lorainfra" / "emulator.db", EmulatorOptions(ready_after=0.05, deployed_after=0.05))
    try:
        with httpx.Client(transport=_SyncASGI(emu.app), base_url="http://emulator.local",
                          headers={"Authorization": "Bearer someone-else"}) as client:
            return client.request(method, path, **kw)
    finally:
        emu.close()


class _SyncASGI(httpx.BaseTransport):
    def __init__(self, app: Any) -> None:
        self.inner = httpx.ASGITransport(app=app)

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        import asyncio

        async def go() -> httpx.Response:
            response = await self.inner.handle_async_request(request)
            body = await response.aread()
            return httpx.Response(response.status_code, headers=response.headers, content=body)

        return asyncio.run(go())


def validate_json_plan(text: str) -> dict[str, Any]:
    doc = json.loads(text)
    jsonschema.validate(doc, PLAN_SCHEMA)
    return doc


def test_review_loop(quickstart: Path, tmp_path: Path) -> None:
    q = str(quickstart)
    assert cli("apply", q, "--auto-approve").code == 0
    # a reviewed change: bump replicas, save the plan
    dep = quickstart / "deployments.yaml"
    dep.write_text(dep.read_text().replace("replicas: {min: 1, max: 2}", "replicas: {min: 1, max: 3}"))
    planfile = tmp_path / "reviewed.plan"
    saved = cli("plan", q, "--out", str(planfile))
    assert saved.code == 0, saved.err
    assert oct(planfile.stat().st_mode & 0o777) == "0o600"
    shown = cli("show", str(planfile), "--json")
    doc = validate_json_plan(shown.out)
    assert [c["address"] for c in doc["changes"] if c["action"] != "no-op"] == ["deployment.shared-base"]

    # someone edits the deployment by hand
    r = behind_our_back(quickstart, "PATCH", "/v1/accounts/quickstart/deployments/shared-base",
                        params={"updateMask": "display_name"},
                        json={"baseModel": "accounts/fireworks/models/llama-v3p1-8b-instruct",
                              "displayName": "hand edited"})
    assert r.status_code == 200, r.text

    stale = cli("apply", str(planfile))
    assert stale.code == 1
    assert "stale" in stale.err and "live objects changed" in stale.err

    drift = cli("drift", q)
    assert drift.code == 2
    assert "deployment.shared-base: display_name was \"Shared Llama 3.1 8B base\", is now \"hand edited\"" in drift.out
    md = cli("drift", q, "--format", "markdown")
    assert md.code == 2 and "| `deployment.shared-base` | `display_name` |" in md.out

    # re-plan shows the drift in its own section, then apply converges
    replan = cli("plan", q, "--detailed-exitcode")
    assert replan.code == 2
    assert replan.out.index("drift") < replan.out.index("lorainfra will perform")
    assert cli("apply", q, "--auto-approve").code == 0
    assert cli("drift", q).code == 0
    assert cli("plan", q, "--detailed-exitcode").code == 0


def test_saved_plan_applies_exactly_and_once(quickstart: Path, tmp_path: Path) -> None:
    q = str(quickstart)
    planfile = tmp_path / "p.plan"
    assert cli("plan", q, "--out", str(planfile)).code == 0
    applied = cli("apply", str(planfile))
    assert applied.code == 0, applied.out + applied.err
    assert cli("plan", q, "--detailed-exitcode").code == 0
    again = cli("apply", str(planfile))
    assert again.code == 1 and "serial" in again.err  # state moved on: the plan is stale


def test_config_edit_alone_is_not_drift(quickstart: Path) -> None:
    q = str(quickstart)
    assert cli("apply", q, "--auto-approve").code == 0
    lor = quickstart / "loras.yaml"
    lor.write_text(lor.read_text().replace("deployment: shared-base\n  faq-bot:",
                                           "deployment: shared-base\n    display_name: Support\n  faq-bot:"))
    assert cli("drift", q).code == 0
    assert cli("plan", q, "--detailed-exitcode").code == 2


def test_vanished_resource_is_drift_and_replanned(quickstart: Path) -> None:
    q = str(quickstart)
    assert cli("apply", q, "--auto-approve").code == 0
    listing = behind_our_back(quickstart, "GET", "/v1/accounts/quickstart/deployedModels",
                              params={"filter": "serverless=true"}).json()
    (serverless,) = listing["deployedModels"]
    assert behind_our_back(quickstart, "DELETE", f"/v1/{serverless['name']}").status_code == 200
    drift = cli("drift", q, "--json")
    assert drift.code == 2
    assert json.loads(drift.out)["drift"][0]["address"] == "lora.summarizer"
    assert json.loads(drift.out)["drift"][0]["kind"] == "vanished"
    plan = cli("plan", q)
    assert "lora.summarizer will be created (vanished from the account)" in plan.out


def test_import_state_mv_rm_and_unmanaged(quickstart: Path) -> None:
    q = str(quickstart)
    # a deployment made by hand, before lorainfra manages it
    r = behind_our_back(quickstart, "POST", "/v1/accounts/quickstart/deployments",
                        params={"deploymentId": "shared-base"},
                        json={"baseModel": "accounts/fireworks/models/llama-v3p1-8b-instruct",
                              "acceleratorType": "NVIDIA_H100_80GB", "acceleratorCount": 1,
                              "minReplicaCount": 1, "maxReplicaCount": 2, "enableAddons": True,
                              "displayName": "Shared Llama 3.1 8B base",
                              "autoscalingPolicy": {"scaleUpWindow": "30s", "scaleDownWindow": "600s"}})
    assert r.status_code == 200, r.text
    plan = cli("plan", q)
    assert "Not managed by lorainfra" not in plan.out or "shared-base" not in plan.out.split("Not managed")[1]
    imported = cli("import", "deployment.shared-base", "shared-base", q)
    assert imported.code == 0, imported.err
    after = cli("plan", q, "--json")
    doc = validate_json_plan(after.out)
    by_addr = {c["address"]: c["action"] for c in doc["changes"]}
    assert by_addr["deployment.shared-base"] == "no-op"

    assert cli("apply", q, "--auto-approve").code == 0
    # rename in the config and in the state: no destroy/recreate
    for f in ("deployments.yaml", "loras.yaml"):
        p = quickstart / f
        p.write_text(p.read_text().replace("support-bot:", "support-assistant:"))
    assert cli("state", "mv", "lora.support-bot", "lora.support-assistant", "--dir", q).code == 0
    assert cli("plan", q, "--detailed-exitcode").code == 0
    # forget without deleting: it becomes "not managed"
    assert cli("state", "rm", "lora.summarizer", "--dir", q).code == 0
    readopt = cli("plan", q)  # still declared: apply would adopt the live object again
    assert "lora.summarizer will be created (exists live but not in state: apply adopts it)" in readopt.out
    lor = quickstart / "loras.yaml"
    lor.write_text(lor.read_text().split("  # A serverless LoRA")[0])
    shown = cli("plan", q, "--detailed-exitcode")
    assert shown.code == 0, shown.out
    assert "Not managed by lorainfra (left alone): 1" in shown.out
    assert "deployedModels/" in shown.out.split("left alone")[1]


def test_target_replace_and_prevent_destroy(quickstart: Path) -> None:
    q = str(quickstart)
    targeted = cli("plan", q, "--target", "lora.support-bot", "--json")
    doc = validate_json_plan(targeted.out)
    acting = sorted(c["address"] for c in doc["changes"] if c["action"] != "no-op")
    assert acting == ["deployment.shared-base", "lora.support-bot"]
    assert cli("apply", q, "--auto-approve").code == 0
    forced = cli("plan", q, "--replace", "deployment.sql-helper")
    assert "deployment.sql-helper must be replaced (replacement requested with --replace)" in forced.out
    dep = quickstart / "deployments.yaml"
    dep.write_text(dep.read_text().replace("  sql-helper:\n", "  sql-helper:\n    lifecycle: {prevent_destroy: true}\n"))
    protected = cli("plan", q, "--replace", "deployment.sql-helper")
    assert protected.code == 1
    assert re.search(r"deployments\.yaml:\d+:\d+: error: deployment\.sql-helper has lifecycle\.prevent_destroy", protected.err)


@pytest.mark.parametrize("fmt", ["markdown", "json"])
def test_golden_outputs(quickstart: Path, fmt: str) -> None:
    out = cli("plan", str(quickstart), "--format", fmt).out
    if fmt == "json":
        doc = validate_json_plan(out)
        doc["fingerprint"] = {k: "X" if isinstance(v, str) else v for k, v in doc["fingerprint"].items()}
        doc["observed_digests"] = {k: "X" for k in doc["observed_digests"]}
        out = json.dumps(doc, indent=2, sort_keys=True) + "\n"
    golden = ROOT / "tests" / "e2e" / "golden" / f"quickstart-plan.{ 'md' if fmt == 'markdown' else 'json'}"
    if os.environ.get("LORAINFRA_UPDATE_GOLDEN"):  # regenerate deliberately, then review the diff
        golden.parent.mkdir(exist_ok=True)
        golden.write_text(out)
    assert golden.exists(), f"missing golden file {golden}: run with LORAINFRA_UPDATE_GOLDEN=1 and review it"
    assert out == golden.read_text()
