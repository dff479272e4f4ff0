"""A model's adapter folder (the ``folder`` attribute) is shown and kept as the config wrote it, relative to the
config folder, in plans, saved plans and the state; the upload still reads it from the config folder, so a
saved plan applies from another checkout of the same config. An absolute path an older lorainfra wrote into
the state plans no change by itself."""

from __future__ import annotations

import json
from pathlib import Path

from tests.e2e.helpers import cli
from tests.e2e.test_review_loop import behind_our_back
from tests.models.adapters import BASE, write_adapter

MAIN = ("provider:\n  account: acme\n  endpoint: local\n  emulator: {ready_after: 0s, deployed_after: 0s, delete_after: 0s}\n"
        "state:\n  backend: local\n")
MODELS = f"models:\n  bot:\n    base_model: {BASE}\n    files: adapters/bot\n"


def _config(root: Path) -> Path:
    root.mkdir(parents=True)
    (root / "lorainfra.yaml").write_text(MAIN)
    (root / "models.yaml").write_text(MODELS)
    write_adapter(root / "adapters" / "bot", r=8, seed=1)
    return root


def _state_file(root: Path) -> Path:
    return root / ".lorainfra" / "state.json"


def test_plans_saved_plans_and_state_show_the_folder_as_written(tmp_path: Path) -> None:
    root = _config(tmp_path / "checkout-a")
    absolute = str(root / "adapters" / "bot")

    shown = cli("plan", str(root))
    assert shown.code == 0, shown.out + shown.err
    assert 'folder         = "adapters/bot"' in shown.out, shown.out
    assert absolute not in shown.out and str(tmp_path) not in shown.out, shown.out
    as_json = cli("plan", str(root), "--json")
    (change,) = [c for c in json.loads(as_json.out)["changes"] if c["address"] == "model.bot"]
    assert change["after"]["folder"] == "adapters/bot", change

    planfile = tmp_path / "reviewed.plan"
    assert cli("plan", str(root), "--out", str(planfile)).code == 0
    assert absolute not in planfile.read_text()
    assert 'folder         = "adapters/bot"' in cli("show", str(planfile)).out

    # the reviewed plan is applied from another checkout (CI: plan in one job, apply in the next): the
    # upload reads the adapter folder relative to the config folder it is applied in
    moved = root.rename(tmp_path / "checkout-b")
    applied = cli("apply", str(planfile), cwd=moved)
    assert applied.code == 0, applied.out + applied.err
    assert behind_our_back(moved, "GET", "/v1/accounts/acme/models/bot").json()["state"] == "READY"
    text = _state_file(moved).read_text()
    assert json.loads(text)["resources"]["model.bot"]["attributes"]["folder"] == "adapters/bot"
    assert str(tmp_path) not in text
    assert cli("plan", str(moved), "--detailed-exitcode").code == 0


def test_an_absolute_folder_in_an_older_state_plans_no_change(tmp_path: Path) -> None:
    root = _config(tmp_path / "config")
    assert cli("apply", str(root), "--auto-approve").code == 0
    # what lorainfra wrote before: the resolved folder, here of a checkout that no longer exists
    doc = json.loads(_state_file(root).read_text())
    doc["resources"]["model.bot"]["attributes"]["folder"] = "/old/checkout/adapters/bot"
    _state_file(root).write_text(json.dumps(doc))
    plan = cli("plan", str(root), "--detailed-exitcode")
    assert plan.code == 0, plan.out + plan.err
    drift = cli("drift", str(root))
    assert drift.code == 0, drift.out + drift.err
