"""Planted links in `.lorainfra/` through the CLI: a clear refusal, no traceback, the target untouched
(issue 13, items 3-4)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.e2e.helpers import cli

VICTIM = "my notes: do not lose\n"


@pytest.mark.parametrize("name", ["state.json.lock", "state.json"])
def test_apply_refuses_a_symlinked_state_file_and_leaves_its_target_alone(
    quickstart: Path, tmp_path: Path, name: str
) -> None:
    victim = tmp_path / "victim.txt"
    victim.write_text(VICTIM)
    folder = quickstart / ".lorainfra"
    folder.mkdir()
    (folder / name).symlink_to(victim)
    run = cli("apply", str(quickstart), "--auto-approve")
    assert run.code == 1
    assert "Traceback" not in run.err
    assert f"{folder / name} is a symbolic link (to {victim})" in run.err
    assert "never follows symbolic links" in run.err
    assert victim.read_text() == VICTIM
    assert (folder / name).is_symlink()
    assert "create" not in run.out  # nothing was started
