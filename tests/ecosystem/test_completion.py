"""Shell completion is installable (`lorainfra --install-completion`) and completes commands."""

from __future__ import annotations

import os
import subprocess

from tests.e2e.helpers import BIN, cli


def test_help_offers_completion() -> None:
    r = cli("--help")
    assert "--install-completion" in r.out and "--show-completion" in r.out


def test_show_completion_prints_a_bash_script() -> None:
    r = cli("--show-completion", "bash")
    assert r.code == 0, r
    assert "_LORAINFRA_COMPLETE" in r.out and "complete " in r.out


def test_completion_completes_subcommands() -> None:
    env = {**os.environ, "_LORAINFRA_COMPLETE": "complete_bash", "COMP_WORDS": "lorainfra st", "COMP_CWORD": "1"}
    proc = subprocess.run([str(BIN)], env=env, capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL)
    assert "state" in proc.stdout.split(), proc.stdout + proc.stderr
