"""Recovering from a damaged state file with the CLI alone (issue 13, item 7)."""

from __future__ import annotations

import json
from pathlib import Path

from lorainfra.state.local import LocalBackend
from lorainfra.state.model import ResourceState, State
from tests.e2e.helpers import cli


def test_truncated_state_is_recovered_from_a_backup_with_the_cli(quickstart: Path, tmp_path: Path) -> None:
    q = str(quickstart)
    path = quickstart / ".lorainfra" / "state.json"
    backend = LocalBackend(path, who="test")
    state = backend.write(State.new())
    for i in range(5):
        state = backend.write(state.with_resource(ResourceState(f"lora.l{i}", "lora", f"accounts/a/deployedModels/l{i}")))
    text = path.read_text()
    path.write_text(text[: len(text) // 3])  # serial 6, truncated

    listed = cli("state", "list", "-C", q)
    assert listed.code == 1 and "Traceback" not in listed.err
    assert "damaged" in listed.err and "state.json.backup" in listed.err
    assert "lorainfra state pull --serial 5" in listed.err and "--force" in listed.err

    history = cli("state", "history", "-C", q)
    assert history.code == 0, history.err
    assert [line.split("\t")[0] for line in history.out.splitlines()] == ["1", "2", "3", "4", "5"]
    assert "damaged" in history.err  # and says so

    pulled = cli("state", "pull", "--serial", "5", "-C", q)
    assert pulled.code == 0, pulled.err
    assert json.loads(pulled.out)["serial"] == 5
    restored_file = tmp_path / "restored.json"
    restored_file.write_text(pulled.out)

    refused = cli("state", "push", str(restored_file), "-C", q)
    assert refused.code == 1 and "--force" in refused.err and "Traceback" not in refused.err

    pushed = cli("state", "push", str(restored_file), "--force", "-C", q)
    assert pushed.code == 0, pushed.err
    assert "serial 7" in pushed.out
    after = cli("state", "list", "-C", q)
    assert after.code == 0, after.err
    assert [line.split("\t")[0] for line in after.out.splitlines()] == [f"lora.l{i}" for i in range(4)]
    kept = [p.name for p in (quickstart / ".lorainfra" / "state.json.backup").iterdir() if p.name.startswith("damaged")]
    assert len(kept) == 1
