"""Ctrl-C: the first SIGINT starts nothing new, lets in-flight calls return, writes state, exits 130;
the second exits at once, with the state still valid. A rerun converges either way."""

from __future__ import annotations

import signal
import subprocess
import time
from pathlib import Path

from tests.reliability.kit import BIN, clean_env, cli, duplicates, identity, live, make_config, read_state


def _start_and_wait_for(folder: Path, marker: str) -> tuple[subprocess.Popen[str], list[str]]:
    proc = subprocess.Popen([str(BIN), "apply", str(folder), "--auto-approve"], env=clean_env(), text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL)
    assert proc.stdout is not None
    seen: list[str] = []
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            break
        seen.append(line)
        if marker in line:
            return proc, seen
    proc.kill()
    raise AssertionError(f"never saw {marker!r}: {''.join(seen)}")


def _converges(folder: Path) -> None:
    again = cli("apply", str(folder), "--auto-approve", env=clean_env())
    assert again.code == 0, again.out + again.err
    assert cli("plan", str(folder), "--detailed-exitcode", env=clean_env()).code == 0
    objs = live(folder / ".lorainfra" / "emulator.db")
    assert duplicates(objs) == {} and len(objs) == 5
    doc = read_state(folder)
    assert {r["remote_name"] for r in doc["resources"].values()} == {o["name"] for o in objs}


def test_first_sigint_finishes_in_flight_and_writes_state(tmp_path: Path) -> None:
    folder = make_config(tmp_path / "cfg", ready_after=3)
    proc, seen = _start_and_wait_for(folder, "deployment.shared-base: CREATING")
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=60)
    out = "".join(seen) + out
    assert proc.returncode == 130, out + err
    assert "Interrupt: starting nothing new" in err
    assert "Apply interrupted!" in out
    assert "Traceback" not in out + err
    # nothing new started: the LoRAs on the shared base never began
    assert "lora.faq-bot: create started" not in out and "lora.support-bot: create started" not in out
    assert "Not started: lora.faq-bot (create)" in out and "Not started: lora.support-bot (create)" in out
    # in-flight calls returned: their objects are reported as stopped while waiting (and recorded), not failed
    assert "Stopped: deployment.shared-base (create): stopped while waiting;" in out
    assert "Failed:" not in out
    # the state was written and knows every live object; no create is left pending
    doc = read_state(folder)
    objs = live(folder / ".lorainfra" / "emulator.db")
    assert objs, "the interrupt came while creates were in flight"
    assert {r["remote_name"] for r in doc["resources"].values()} == {o["name"] for o in objs}
    assert doc["pending"] == {}
    assert not any(o["kind"] == "lora" and o.get("deployment") for o in objs)
    _converges(folder)


def test_second_sigint_exits_at_once_with_valid_state(tmp_path: Path) -> None:
    folder = make_config(tmp_path / "cfg", ready_after=30)  # in-flight waits would take long: exit must not
    proc, _seen = _start_and_wait_for(folder, "deployment.shared-base: CREATING")
    proc.send_signal(signal.SIGINT)
    assert proc.stderr is not None
    handled: list[str] = []  # the second SIGINT goes once the first was handled (a condition, not a delay)
    while not any("Interrupt: starting nothing new" in line for line in handled):
        line = proc.stderr.readline()
        assert line, "exited before handling the first SIGINT: " + "".join(handled)
        handled.append(line)
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=20)
    err = "".join(handled) + err
    assert proc.returncode == 130, out + err
    assert "Interrupted again: exiting now" in err
    doc = read_state(folder)  # parses (the file and the change log the exit may have left)
    known = {r["remote_name"] for r in doc["resources"].values()} | {
        p["identity"].get("remote_name", "") for p in doc["pending"].values()}
    objs = live(folder / ".lorainfra" / "emulator.db")
    assert all(o["name"] in known for o in objs if o["kind"] == "deployment"), (objs, doc)
    assert all(identity(o) for o in objs)
    # finish quickly: make the emulated deployments ready now, then a rerun converges
    text = (folder / "lorainfra.yaml").read_text().replace("after: 30", "after: 0.05")
    (folder / "lorainfra.yaml").write_text(text)
    from lorainfra.emulator import Emulator

    emu = Emulator(folder / ".lorainfra" / "emulator.db")
    emu.advance(60)
    emu.close()
    _converges(folder)
