"""SIGTERM or Ctrl-C while lorainfra only reads (refresh, plan checks, drift) stops it at once (issue 13
item 17): a CI runner's timeout must not wait for a refresh that goes on. Nothing has been written then, so
nothing is left to finish; the state is untouched."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.reliability.badserver import BadServer

BIN = Path(sys.executable).parent / "lorainfra"


def _wait_for(condition: object, limit: float = 60.0) -> None:
    deadline = time.monotonic() + limit
    while not condition():  # type: ignore[operator]
        assert time.monotonic() < deadline, "condition not reached"
        time.sleep(0.02)


@pytest.mark.parametrize(("command", "sig"), [
    (("plan",), signal.SIGTERM),
    (("apply", "--auto-approve"), signal.SIGTERM),
    (("drift",), signal.SIGTERM),
    (("plan",), signal.SIGINT),
])
def test_stop_during_refresh_ends_promptly_and_changes_nothing(
    quickstart: Path, command: tuple[str, ...], sig: signal.Signals
) -> None:
    state = quickstart / ".lorainfra" / "state.json"
    before = state.read_bytes() if state.exists() else None
    env = {k: v for k, v in os.environ.items() if not k.startswith("FIREWORKS_")}
    env["FIREWORKS_API_KEY"] = "test-key-123456"
    with BadServer() as server:  # "silent": reads each request and never answers
        proc = subprocess.Popen([str(BIN), command[0], str(quickstart), *command[1:], "--endpoint",
                                 server.url("silent")], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                stdin=subprocess.DEVNULL, text=True)
        try:
            _wait_for(lambda: server.count("silent") >= 1)  # the refresh is in flight
            proc.send_signal(sig)
            out, err = proc.communicate(timeout=30)  # promptly: not after the 60 s request deadline
        finally:
            if proc.poll() is None:
                proc.kill()
    assert proc.returncode == 130, (out, err)
    assert "nothing was changed" in err and "Traceback" not in err, err
    assert (state.read_bytes() if state.exists() else None) == before
