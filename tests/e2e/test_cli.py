"""The CLI end to end through the console script, as the README runs it."""

from __future__ import annotations

import os
from pathlib import Path

from tests.e2e.helpers import BIN, cli


def test_console_script_is_installed() -> None:
    assert BIN.exists()
    assert cli("--version").out.strip().startswith("lorainfra ")


def test_quickstart_plan_apply_noop_destroy(quickstart: Path) -> None:
    q = str(quickstart)
    plan = cli("plan", q)
    assert plan.code == 0, plan.err
    assert "Plan: 5 to add, 0 to change, 0 to destroy." in plan.out
    assert '+ deployment "shared-base"' in plan.out and '+ lora "summarizer"' in plan.out
    assert cli("plan", q, "--detailed-exitcode").code == 2

    # without a terminal, apply refuses to ask and changes nothing
    refused = cli("apply", q)
    assert refused.code == 1 and "--auto-approve" in refused.err

    applied = cli("apply", q, "--auto-approve")
    assert applied.code == 0, applied.out + applied.err
    assert "Apply complete!" in applied.out
    state_file = quickstart / ".lorainfra" / "state.json"
    assert state_file.exists() and oct(state_file.stat().st_mode & 0o777) == "0o600"

    again = cli("plan", q, "--detailed-exitcode")
    assert again.code == 0, again.out + again.err
    assert "No changes. Your infrastructure matches the configuration." in again.out

    listed = cli("state", "list", "--dir", q)
    assert listed.code == 0 and "lora.support-bot\taccounts/quickstart/deployedModels/" in listed.out

    destroyed = cli("destroy", q, "--auto-approve")
    assert destroyed.code == 0, destroyed.out + destroyed.err
    assert "Plan: 0 to add, 0 to change, 5 to destroy." in destroyed.out
    assert cli("plan", q, "--destroy", "--detailed-exitcode").code == 0
    assert cli("state", "list", "--dir", q).out.strip() == ""


def test_detailed_exitcode_error_is_1_with_file_and_line(quickstart: Path) -> None:
    (quickstart / "loras.yaml").write_text("loras:\n  bad-ref:\n    model: accounts/quickstart/models/x\n"
                                           "    deployment: shared-bse\n")
    result = cli("plan", str(quickstart), "--detailed-exitcode")
    assert result.code == 1
    assert "loras.yaml:4:" in result.err and "shared-base" in result.err
    assert "Traceback" not in result.err


def test_run_from_inside_the_config_folder(quickstart: Path) -> None:
    assert cli("validate", cwd=quickstart).code == 0
    assert cli("plan", cwd=quickstart).code == 0


def test_missing_folder_is_a_clear_error(tmp_path: Path) -> None:
    result = cli("plan", str(tmp_path / "nope"))
    assert result.code == 1 and "Traceback" not in result.err and "lorainfra.yaml" in result.err


def test_real_endpoint_needs_api_key_and_refuses_plain_http(quickstart: Path) -> None:
    q = str(quickstart)
    no_key = cli("plan", q, "--endpoint", "https://api.fireworks.ai")
    assert no_key.code == 1 and "FIREWORKS_API_KEY" in no_key.err
    plain = cli("plan", q, "--endpoint", "http://example.com", env={"FIREWORKS_API_KEY": "k"})
    assert plain.code == 1 and "--insecure" in plain.err
    assert os.environ.get("FIREWORKS_API_KEY") is None or True


def test_destroy_refused_by_loaded_loras_says_force_and_force_deletes(quickstart: Path) -> None:
    # issue 10 item 9: a LoRA the state no longer manages stays loaded, so Fireworks refuses the deployment's delete
    q = str(quickstart)
    assert cli("apply", q, "--auto-approve").code == 0
    assert cli("state", "rm", "lora.support-bot", "--dir", q).code == 0
    refused = cli("destroy", q, "--auto-approve")
    assert refused.code == 1, refused.out + refused.err
    assert "ignoreChecks" in refused.out + refused.err and "`lorainfra destroy --force`" in refused.out + refused.err
    forced = cli("destroy", q, "--auto-approve", "--force")
    assert forced.code == 0, forced.out + forced.err
    assert cli("state", "list", "--dir", q).out.strip() == ""
