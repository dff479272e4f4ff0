"""Fixtures for the config loader tests (helpers live in cfgkit.py)."""

from __future__ import annotations

from pathlib import Path

import pytest
from cfgkit import ConfigFolder


@pytest.fixture
def cfg(tmp_path: Path) -> ConfigFolder:
    return ConfigFolder(tmp_path)
