"""The backend factory: settings + environment -> StateBackend."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

from lorainfra.config.model import StateSettings
from lorainfra.errors import SettingsError
from lorainfra.state.local import LocalBackend
from lorainfra.state.open import default_who, open_backend
from lorainfra.state.postgres import PostgresBackend


def test_local_default_path(tmp_path: Path) -> None:
    backend = open_backend(StateSettings(), tmp_path, environ={}, who="me")
    assert isinstance(backend, LocalBackend)
    assert backend.path == tmp_path / ".lorainfra" / "state.json"
    assert not (tmp_path / ".lorainfra").exists()  # nothing created until first write


def test_local_workspace_and_explicit_paths(tmp_path: Path) -> None:
    ws = open_backend(StateSettings(workspace="staging"), tmp_path, environ={}, who="me")
    assert ws.path == tmp_path / ".lorainfra" / "workspaces" / "staging" / "state.json"  # type: ignore[attr-defined]
    rel = open_backend(StateSettings(path="state/prod.json"), tmp_path, environ={}, who="me")
    assert rel.path == tmp_path / "state" / "prod.json"  # type: ignore[attr-defined]
    absolute = open_backend(StateSettings(path="/srv/s.json"), tmp_path, environ={}, who="me")
    assert absolute.path == Path("/srv/s.json")  # type: ignore[attr-defined]


def test_postgres_reads_dsn_from_named_variable(tmp_path: Path) -> None:
    settings = StateSettings(backend="postgres", dsn_env="MY_DSN", workspace="prod")
    backend = open_backend(settings, tmp_path, environ={"MY_DSN": "postgresql://u:pw@h/db"}, who="me")
    assert isinstance(backend, PostgresBackend)
    assert backend.workspace == "prod"
    assert "pw" not in backend.describe()


def test_postgres_unset_variable_is_named(tmp_path: Path) -> None:
    settings = StateSettings(backend="postgres", dsn_env="MY_DSN")
    with pytest.raises(SettingsError, match="MY_DSN is not set"):
        open_backend(settings, tmp_path, environ={}, who="me")
    with pytest.raises(SettingsError, match="dsn_env is not set"):
        open_backend(StateSettings(backend="postgres"), tmp_path, environ={}, who="me")


@pytest.mark.parametrize("settings", [StateSettings(backend="s3"), StateSettings(workspace="../x")])
def test_bad_settings(settings: StateSettings, tmp_path: Path) -> None:
    with pytest.raises(SettingsError):
        open_backend(settings, tmp_path, environ={}, who="me")


def test_default_who() -> None:
    who = default_who()
    assert re.fullmatch(r".+@.+ \(pid \d+\)", who)
    assert who.endswith(f"(pid {os.getpid()})")
