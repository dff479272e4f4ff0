"""Backend factory: turn the ``state:`` settings of a config folder into a StateBackend."""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path

from lorainfra.config.model import StateSettings
from lorainfra.errors import SettingsError
from lorainfra.state.backend import StateBackend
from lorainfra.state.local import DEFAULT_PATH, LocalBackend
from lorainfra.state.lockfile import Clock, default_who

__all__ = ["default_who", "local_state_path", "open_backend"]

WORKSPACE_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$")


def local_state_path(settings: StateSettings, root: Path) -> Path:
    """Where the local backend keeps the state of ``settings.workspace`` for the config at ``root``.

    ``state.path`` wins (relative to the config folder); otherwise ``.lorainfra/state.json`` for the
    ``default`` workspace and ``.lorainfra/workspaces/<name>/state.json`` for any other.
    """
    if settings.path:
        path = Path(settings.path).expanduser()
        return path if path.is_absolute() else root / path
    if settings.workspace == "default":
        return root / DEFAULT_PATH
    return root / ".lorainfra" / "workspaces" / settings.workspace / "state.json"


def open_backend(
    settings: StateSettings,
    root: Path,
    *,
    environ: Mapping[str, str],
    who: str,
    clock: Clock | None = None,
) -> StateBackend:
    """The backend the settings name. Nothing is connected or created until it is first used."""
    if not WORKSPACE_RE.match(settings.workspace or ""):
        raise SettingsError(
            f"state.workspace {settings.workspace!r} is invalid: use 1-63 letters, digits, '_', '-', '.'"
        )
    if settings.backend == "local":
        return LocalBackend(local_state_path(settings, root), who=who, clock=clock)
    if settings.backend == "postgres":
        var = settings.dsn_env
        if not var:
            raise SettingsError(
                "state.backend is postgres but state.dsn_env is not set: name the environment variable "
                "that holds the PostgreSQL DSN (e.g. dsn_env: LORAINFRA_STATE_DSN)"
            )
        dsn = environ.get(var, "").strip()
        if not dsn:
            raise SettingsError(
                f"the postgres state backend reads its DSN from ${var} (state.dsn_env), "
                f"but {var} is not set; export {var}=postgresql://user@host/dbname"
            )
        from lorainfra.state.postgres import PostgresBackend  # psycopg is only needed here

        return PostgresBackend(dsn, settings.workspace, who=who, clock=clock)
    raise SettingsError(f"state.backend {settings.backend!r} is unknown: use 'local' or 'postgres'")
