"""state subcommands take the config folder positionally, like every other command, as well as --dir."""

from __future__ import annotations

from pathlib import Path

from tests.e2e.helpers import cli


def test_state_commands_accept_the_folder_positionally(quickstart: Path, tmp_path: Path) -> None:
    q = str(quickstart)
    assert cli("apply", q, "--auto-approve", "--target", "deployment.sql-helper").code == 0
    by_option = cli("state", "list", "--dir", q)
    by_position = cli("state", "list", q)
    assert by_position.code == 0, by_position
    assert by_position.out == by_option.out and "deployment.sql-helper" in by_position.out
    assert cli("state", "show", "deployment.sql-helper", q).code == 0
    assert cli("state", "history", q).out.count("\n") >= 1
    assert cli("state", "pull", q).out == cli("state", "pull", "--dir", q).out
    refused = cli("state", "mv", "deployment.sql-helper", "deployment.sql-merged", q)
    assert refused.code == 1 and "name is its Fireworks deployment ID" in refused.err, refused
    assert "Traceback" not in refused.err
    assert cli("state", "rm", "deployment.sql-helper", q).code == 0
    assert cli("state", "list", q).out.strip() == ""


def test_two_different_folders_is_a_clear_error(quickstart: Path, tmp_path: Path) -> None:
    r = cli("state", "list", str(quickstart), "--dir", str(tmp_path))
    assert r.code == 2 and "two folders given" in r.err and "Traceback" not in r.err
    assert cli("state", "list", str(quickstart), "--dir", str(quickstart)).code == 0
