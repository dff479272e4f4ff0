"""lorainfra against `lorainfra emulator serve` over real HTTP on loopback, as against api.fireworks.ai."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from lorainfra.emulator.process import EmulatorProcess
from tests.e2e.helpers import BIN, cli


@pytest.fixture
def served(tmp_path: Path) -> Iterator[str]:
    db = tmp_path / "served.db"
    with EmulatorProcess(
        lambda port: [str(BIN), "emulator", "serve", "--port", str(port), "--db", str(db),
                      "--ready-after", "0.1", "--deployed-after", "0.1", "--api-key", "served-key-123"],
        log=tmp_path / "served.log", env={**os.environ},
    ) as emu:
        yield emu.url


def test_plan_apply_destroy_against_served_emulator(quickstart: Path, served: str) -> None:
    q = str(quickstart)
    env = {"FIREWORKS_API_KEY": "served-key-123"}
    plan = cli("plan", "--endpoint", served, q, env=env)
    assert plan.code == 0, plan.err
    assert "Plan: 5 to add" in plan.out
    # the flag also works after the command name, and the SDK's env var is honoured
    assert cli("plan", q, "--endpoint", served, env=env).code == 0
    assert cli("apply", q, "--auto-approve", "--endpoint", served, env=env).code == 0
    again = cli("plan", q, "--detailed-exitcode", "--endpoint", served, env=env)
    assert again.code == 0, again.out + again.err
    # the embedded default saw nothing of it: lorainfra really talked to the served emulator
    local = cli("plan", q, "--detailed-exitcode", env={})
    assert (local.code == 1 and "another lineage" not in local.err) or local.code in (1, 2)
    # a wrong key is refused by the server with a clear message
    bad = cli("plan", q, "--endpoint", served, env={"FIREWORKS_API_KEY": "wrong"})
    assert bad.code == 1 and "401" in bad.err and "wrong" not in bad.err
    assert cli("destroy", q, "--auto-approve", "--endpoint", served, env=env).code == 0


def test_fireworks_base_url_env_is_used_when_config_sets_no_endpoint(quickstart: Path, served: str) -> None:
    cfg = quickstart / "lorainfra.yaml"
    cfg.write_text(cfg.read_text().replace("  endpoint: local\n", ""))
    env = {"FIREWORKS_API_KEY": "served-key-123", "FIREWORKS_BASE_URL": served}
    result = cli("plan", str(quickstart), env=env)
    assert result.code == 0, result.err
    assert "Plan: 5 to add" in result.out
