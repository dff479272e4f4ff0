"""Shared fixtures: fast copies of the example config folders."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples"


def fast_copy(src: Path, dst: Path) -> Path:
    """Copy an example folder, making the embedded emulator's waits short."""
    shutil.copytree(src, dst, ignore=shutil.ignore_patterns(".lorainfra"))
    cfg = dst / "lorainfra.yaml"
    text = cfg.read_text()
    text = re.sub(r"ready_after: \S+", "ready_after: 0.05", text)
    text = re.sub(r"deployed_after: \S+", "deployed_after: 0.05", text)
    cfg.write_text(text)
    return dst


@pytest.fixture
def quickstart(tmp_path: Path) -> Path:
    return fast_copy(EXAMPLES / "quickstart", tmp_path / "quickstart")
