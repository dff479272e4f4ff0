"""`lorainfra emulator serve` passes the issue-10 options through to EmulatorOptions."""

from __future__ import annotations

from typing import Any

import pytest
from typer.testing import CliRunner

import lorainfra.emulator
from lorainfra.cli.app import app
from lorainfra.emulator import EmulatorOptions


def serve_options(monkeypatch: pytest.MonkeyPatch, tmp_path: Any, *args: str) -> EmulatorOptions:
    seen: list[EmulatorOptions] = []
    monkeypatch.setattr(lorainfra.emulator, "serve", lambda **kw: seen.append(kw["options"]))
    result = CliRunner().invoke(app, ["emulator", "serve", "--db", str(tmp_path / "e.db"), *args])
    assert result.exit_code == 0, result.output
    (options,) = seen
    return options


def test_defaults_are_the_documented_limits(monkeypatch: pytest.MonkeyPatch, tmp_path: Any) -> None:
    options = serve_options(monkeypatch, tmp_path)
    assert (options.serverless_per_base_limit, options.serverless_limit) == (3, 100)
    assert options.serverless_idle_unload_after == 7 * 86400
    assert options.max_rps is None and options.auto_deploy_base is True  # as Fireworks does


def test_every_new_option_reaches_the_emulator(monkeypatch: pytest.MonkeyPatch, tmp_path: Any) -> None:
    options = serve_options(
        monkeypatch,
        tmp_path,
        "--serverless-per-base-limit",
        "5",
        "--serverless-limit",
        "7",
        "--no-serverless-idle-unload",
        "--max-rps",
        "100",
        "--auto-deploy-base",
    )
    assert (options.serverless_per_base_limit, options.serverless_limit) == (5, 7)
    assert options.serverless_idle_unload_after is None
    assert options.max_rps == 100 and options.auto_deploy_base is True
