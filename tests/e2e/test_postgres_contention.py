"""Four applies against one PostgreSQL workspace: exactly one proceeds; a killed holder frees the lock."""

from __future__ import annotations

import os
import signal
import subprocess
import time
import uuid
from pathlib import Path

import pytest

from tests.e2e.helpers import BIN, cli

pytestmark = pytest.mark.postgres


def use_postgres(folder: Path, workspace: str) -> None:
    cfg = folder / "lorainfra.yaml"
    text = cfg.read_text().split("state:")[0]
    cfg.write_text(text + f"state:\n  backend: postgres\n  dsn_env: LORAINFRA_TEST_PG_DSN\n  workspace: {workspace}\n")


def start_apply(folder: Path, *extra: str) -> subprocess.Popen[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("FIREWORKS_")}
    return subprocess.Popen([str(BIN), "apply", str(folder), "--auto-approve", *extra], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, stdin=subprocess.DEVNULL)


def test_four_applies_one_workspace(quickstart: Path, pg_dsn: str) -> None:
    workspace = f"contention-{uuid.uuid4().hex[:8]}"
    use_postgres(quickstart, workspace)
    cfg = quickstart / "lorainfra.yaml"
    cfg.write_text(cfg.read_text().replace("ready_after: 0.05", "ready_after: 4"))
    procs = [start_apply(quickstart) for _ in range(4)]
    results = [(p.wait(timeout=120), *p.communicate()) for p in procs]
    codes = sorted(code for code, _, _ in results)
    assert codes == [0, 1, 1, 1], results
    for code, _out, err in results:
        if code == 1:
            assert "state is locked" in err and "for 'apply'" in err and "pid" in err
    # the winner's state matches the live emulator
    assert cli("plan", str(quickstart), "--detailed-exitcode").code == 0
    assert cli("drift", str(quickstart)).code == 0


def test_killed_holder_frees_the_lock_and_waiter_proceeds(quickstart: Path, pg_dsn: str) -> None:
    workspace = f"kill-{uuid.uuid4().hex[:8]}"
    use_postgres(quickstart, workspace)
    cfg = quickstart / "lorainfra.yaml"
    cfg.write_text(cfg.read_text().replace("ready_after: 0.05", "ready_after: 30"))
    holder = start_apply(quickstart)
    time.sleep(0.3)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:  # wait until the holder took the lock (a second apply is refused)
        probe = cli("plan", str(quickstart), "--out", str(quickstart / "p.plan"))
        if probe.code == 1 and "locked" in probe.err:
            break
        time.sleep(0.2)
    else:
        pytest.fail("the first apply never took the lock")
    waiter = start_apply(quickstart, "--lock-timeout", "60s")
    time.sleep(0.5)
    holder.send_signal(signal.SIGKILL)
    holder.wait(timeout=10)
    cfg.write_text(cfg.read_text().replace("ready_after: 30", "ready_after: 0.05"))
    code = waiter.wait(timeout=120)
    out, err = waiter.communicate()
    assert code == 0, out + err
    assert cli("plan", str(quickstart), "--detailed-exitcode").code == 0
