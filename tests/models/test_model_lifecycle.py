"""Models through the CLI and the in-process emulator, beyond the happy path: import, drift, a model still in
use outside this config, prevent_destroy, and adopting a model whose upload was never finished."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.e2e.helpers import cli
from tests.e2e.test_review_loop import behind_our_back
from tests.models.adapters import BASE, write_adapter

MAIN = ("provider:\n  account: acme\n  endpoint: local\n  emulator: {ready_after: 0s, deployed_after: 0s, delete_after: 0s}\n"
        "state:\n  backend: local\n")
DEPLOYMENT = (f"deployments:\n  base:\n    base_model: {BASE}\n    accelerator: {{type: NVIDIA_H100_80GB, count: 1}}\n"
              "    replicas: {min: 1, max: 1}\n    addons: true\n")
MODELS = "/v1/accounts/acme/models"
PEFT = {"baseModel": BASE, "r": 8, "targetModules": ["q_proj", "v_proj"]}


def model_yaml(name: str = "bot", extra: str = "") -> str:
    return f"models:\n  {name}:\n    base_model: {BASE}\n    files: adapters/bot\n{extra}"


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    (tmp_path / "lorainfra.yaml").write_text(MAIN)
    (tmp_path / "models.yaml").write_text(model_yaml())
    write_adapter(tmp_path / "adapters" / "bot", r=8, seed=1)
    return tmp_path


def _state(folder: Path) -> dict:
    return json.loads((folder / ".lorainfra" / "state.json").read_text())["resources"]


def _hand_made(folder: Path, model_id: str, *, upload: bool) -> None:
    """A model created by hand (firectl create model), its upload finished or not."""
    r = behind_our_back(folder, "POST", MODELS, json={"modelId": model_id, "model": {"kind": "HF_PEFT_ADDON",
                                                                                      "peftDetails": PEFT}})
    assert r.status_code == 200, r.text
    if not upload:
        return
    adapter = folder / "adapters" / "bot"
    sizes = {p.name: str(p.stat().st_size) for p in adapter.iterdir()}
    urls = behind_our_back(folder, "POST", f"{MODELS}/{model_id}:getUploadEndpoint", json={"filenameToSize": sizes})
    assert urls.status_code == 200, urls.text
    for name, url in urls.json()["filenameToSignedUrls"].items():
        data = (adapter / name).read_bytes()
        put = behind_our_back(folder, "PUT", url, content=data, headers={"X-Goog-Content-Length-Range": f"{len(data)},{len(data)}",
                                                     "Content-Type": "application/octet-stream"})
        assert put.status_code == 200, put.text
    done = behind_our_back(folder, "GET", f"{MODELS}/{model_id}:validateUpload")
    assert done.status_code == 200, done.text


def test_import_a_model_made_by_hand(folder: Path) -> None:
    _hand_made(folder, "bot", upload=True)
    imported = cli("import", "model.bot", "accounts/acme/models/bot", str(folder))
    assert imported.code == 0, imported.out + imported.err
    assert _state(folder)["model.bot"]["remote_name"] == "accounts/acme/models/bot"
    assert cli("plan", str(folder), "--detailed-exitcode").code == 0  # adopted as it is: nothing to upload


def test_import_under_another_id_is_refused(folder: Path) -> None:
    _hand_made(folder, "other", upload=True)
    imported = cli("import", "model.bot", "accounts/acme/models/other", str(folder))
    assert imported.code == 1, imported.out + imported.err
    assert "model.bot is accounts/acme/models/bot" in imported.err, imported.err
    assert "Traceback" not in imported.err
    assert not (folder / ".lorainfra" / "state.json").exists() or "model.bot" not in _state(folder)


def test_drift_on_models_vanished_and_changed(folder: Path) -> None:
    assert cli("apply", str(folder), "--auto-approve").code == 0
    assert cli("drift", str(folder)).code == 0
    r = behind_our_back(folder, "PATCH", f"{MODELS}/bot", params={"updateMask": "displayName"},
                        json={"displayName": "renamed by hand"})
    assert r.status_code == 200, r.text
    changed = cli("drift", str(folder), "--json")
    assert changed.code == 2, changed.out + changed.err
    items = json.loads(changed.out)["drift"]
    assert [(i["address"], i["kind"], i.get("attribute")) for i in items] == [("model.bot", "changed", "display_name")], items
    assert behind_our_back(folder, "DELETE", f"{MODELS}/bot").status_code == 200
    vanished = cli("drift", str(folder), "--json")
    assert vanished.code == 2
    assert [(i["address"], i["kind"]) for i in json.loads(vanished.out)["drift"]] == [("model.bot", "vanished")]
    replan = cli("plan", str(folder))
    assert "vanished from the account" in replan.out and '+ model "bot"' in replan.out, replan.out


def test_deleting_a_model_loaded_outside_this_config_is_a_clear_error(folder: Path) -> None:
    (folder / "deployments.yaml").write_text(DEPLOYMENT)
    assert cli("apply", str(folder), "--auto-approve").code == 0
    loaded = behind_our_back(folder, "POST", "/v1/accounts/acme/deployedModels",
                             json={"model": "accounts/acme/models/bot", "deployment": "accounts/acme/deployments/base"})
    assert loaded.status_code == 200, loaded.text
    (folder / "models.yaml").write_text("models: {}\n")
    plan = cli("plan", str(folder))
    assert plan.code == 1, plan.out + plan.err
    assert "model.bot" in plan.err and "loaded" in plan.err and "not managed by this config" in plan.err, plan.err
    assert "Traceback" not in plan.err
    applied = cli("apply", str(folder), "--auto-approve")
    assert applied.code == 1 and "Traceback" not in applied.err, applied.err
    assert "model.bot" in _state(folder)  # nothing was deleted


def test_prevent_destroy_on_a_model_blocks_destroy(folder: Path) -> None:
    (folder / "models.yaml").write_text(model_yaml(extra="    lifecycle: {prevent_destroy: true}\n"))
    assert cli("apply", str(folder), "--auto-approve").code == 0
    destroyed = cli("destroy", str(folder), "--auto-approve")
    assert destroyed.code == 1, destroyed.out + destroyed.err
    assert "model.bot" in destroyed.err and "prevent_destroy" in destroyed.err, destroyed.err
    assert behind_our_back(folder, "GET", f"{MODELS}/bot").json()["state"] == "READY"
    assert "model.bot" in _state(folder)


def test_a_model_adopted_while_uploading_gets_its_files_instead_of_a_wait(folder: Path) -> None:
    _hand_made(folder, "bot", upload=False)  # created, never uploaded: it would stay UPLOADING forever
    assert behind_our_back(folder, "GET", f"{MODELS}/bot").json()["state"] == "UPLOADING"
    planned = cli("plan", str(folder))
    assert ("# model.bot will be created (accounts/acme/models/bot exists live but not in state and is still "
            "UPLOADING (its upload never finished): apply adopts it and uploads its files)") in planned.out, planned.out
    applied = cli("apply", str(folder), "--auto-approve", timeout=60)
    assert applied.code == 0, applied.out + applied.err
    assert behind_our_back(folder, "GET", f"{MODELS}/bot").json()["state"] == "READY"
    assert _state(folder)["model.bot"]["remote_name"] == "accounts/acme/models/bot"
    assert cli("plan", str(folder), "--detailed-exitcode").code == 0
