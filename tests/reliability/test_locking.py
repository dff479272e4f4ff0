"""Locking: concurrent applies on one config folder; exactly one proceeds, the rest fail at once naming the
holder; --lock-timeout waits; a SIGKILLed holder never blocks the next run."""

from __future__ import annotations

import re
import signal
import subprocess
import time
from pathlib import Path

from tests.reliability.kit import BIN, clean_env, cli, duplicates, live, make_config, read_state

PARALLEL = 5


def _apply(folder: Path, *extra: str) -> subprocess.Popen[str]:
    return subprocess.Popen([str(BIN), "apply", str(folder), "--auto-approve", *extra], env=clean_env(), text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL)


def _wait_for_line(proc: subprocess.Popen[str], marker: str) -> list[str]:
    assert proc.stdout is not None
    seen = []
    while True:
        line = proc.stdout.readline()
        if not line:
            raise AssertionError(f"exited before {marker!r}: {''.join(seen)}")
        seen.append(line)
        if marker in line:
            return seen


def _assert_converged(folder: Path) -> None:
    objs = live(folder / ".lorainfra" / "emulator.db")
    assert duplicates(objs) == {} and len(objs) == 5
    assert {r["remote_name"] for r in read_state(folder)["resources"].values()} == {o["name"] for o in objs}
    assert cli("plan", str(folder), "--detailed-exitcode", env=clean_env()).code == 0


def test_concurrent_applies_exactly_one_proceeds(tmp_path: Path) -> None:
    folder = make_config(tmp_path / "cfg", ready_after=6)  # the winner holds the lock for seconds
    procs = [_apply(folder) for _ in range(PARALLEL)]
    # the losers fail at once: all of them end while the winner is still applying
    while sum(p.poll() is not None for p in procs) < PARALLEL - 1:
        time.sleep(0.05)
    running = [p for p in procs if p.poll() is None]
    assert len(running) == 1, [p.poll() for p in procs]
    winner = running[0]
    results = {p.pid: (p.returncode, *p.communicate()) for p in procs if p is not winner}
    w_out, w_err = winner.communicate(timeout=120)
    assert winner.returncode == 0, w_out + w_err
    for pid, (code, out, err) in results.items():
        assert code == 1, (pid, out, err)
        assert "Traceback" not in err
        # who holds it, since when, for what operation, and what to do
        m = re.search(r"state is locked: lock (\S+) held by (.+) since (\S+) for 'apply'", err)
        assert m, err
        assert f"(pid {winner.pid})" in m.group(2)
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", m.group(3))
        assert "--lock-timeout" in err and f"force-unlock {m.group(1)}" in err
        assert out.count("will be created") == 0  # it never planned or touched anything
    print(f"\nconcurrent applies: {PARALLEL} started, 1 proceeded, {PARALLEL - 1} refused naming the holder")
    _assert_converged(folder)


def test_plan_out_is_refused_while_apply_holds_the_lock(tmp_path: Path) -> None:
    folder = make_config(tmp_path / "cfg", ready_after=4)
    holder = _apply(folder)
    _wait_for_line(holder, "create started")
    refused = cli("plan", str(folder), "--out", str(tmp_path / "p.plan"), env=clean_env())
    assert refused.code == 1 and f"(pid {holder.pid})" in refused.err and "for 'apply'" in refused.err
    assert not (tmp_path / "p.plan").exists()
    holder.communicate(timeout=120)
    assert holder.returncode == 0


def test_waiter_with_lock_timeout_proceeds_after_the_holder(tmp_path: Path) -> None:
    folder = make_config(tmp_path / "cfg", ready_after=2)
    holder = _apply(folder)
    _wait_for_line(holder, "create started")
    waiter = _apply(folder, "--lock-timeout", "30s")
    h_out, h_err = holder.communicate(timeout=120)
    w_out, w_err = waiter.communicate(timeout=120)
    assert holder.returncode == 0, h_out + h_err
    assert waiter.returncode == 0, w_out + w_err
    assert "No changes" in w_out  # it waited, then planned against what the holder had done
    _assert_converged(folder)


def test_sigkilled_holder_never_blocks_the_next_run(tmp_path: Path) -> None:
    folder = make_config(tmp_path / "cfg", ready_after=2)
    holder = _apply(folder)
    _wait_for_line(holder, "create started")
    holder.send_signal(signal.SIGKILL)
    holder.wait()
    nxt = cli("apply", str(folder), "--auto-approve", env=clean_env())  # no --lock-timeout: must not wait
    assert nxt.code == 0, nxt.out + nxt.err
    _assert_converged(folder)
