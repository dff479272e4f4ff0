"""Messages name config files with the folder as the user typed it (issue 15): CI logs of two folders say which
one failed."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.e2e.helpers import cli

MAIN = "provider: {account: q, endpoint: local}\n"
LORAS = "loras:\n  bot:\n    model: accounts/q/models/m\n    deployment: base\n"
BASE = "accounts/fireworks/models/llama-v3p1-8b-instruct"
DEPLOYMENTS = f"deployments:\n  base:\n    base_model: {BASE}\n    shape: default\n"  # no addons: an error


def broken(root: Path) -> Path:
    folder = root / "infra" / "prod"
    folder.mkdir(parents=True)
    (folder / "lorainfra.yaml").write_text(MAIN)
    (folder / "deployments.yaml").write_text(DEPLOYMENTS)
    (folder / "loras.yaml").write_text(LORAS)
    return folder


@pytest.mark.parametrize(("typed", "cwd", "prefix"), [
    ("infra/prod", ".", "infra/prod/"),
    ("./infra/prod/", ".", "infra/prod/"),
    (".", "infra/prod", ""),
    ("../prod", "infra/prod", "../prod/"),
    ("ABS", ".", "ABS/"),
])
def test_error_paths_carry_the_folder_as_typed(tmp_path: Path, typed: str, cwd: str, prefix: str) -> None:
    folder = broken(tmp_path)
    typed = typed.replace("ABS", str(folder))
    prefix = prefix.replace("ABS", str(folder))
    r = cli("validate", typed, cwd=tmp_path / cwd)
    assert r.code == 1, r
    # the error and the position it refers to inside its hint both carry the prefix
    assert f"{prefix}loras.yaml:4:17: error: deployment 'base' does not have addons enabled" in r.err, r.err
    assert f"set addons: true on deployment 'base' ({prefix}deployments.yaml:2:3)" in r.err, r.err


def test_validate_json_names_the_file_as_typed(tmp_path: Path) -> None:
    broken(tmp_path)
    r = cli("validate", "--json", "infra/prod", cwd=tmp_path)
    (only,) = json.loads(r.out)["diagnostics"]
    assert only["range"]["filename"] == "infra/prod/loras.yaml"
    assert (tmp_path / only["range"]["filename"]).is_file()  # an editor can open it from where it ran lorainfra
