"""Crash safety: `lorainfra apply` SIGKILLed at random moments never loses track of what it created."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from lorainfra.errors import StateError
from lorainfra.state.local import LocalBackend
from tests.reliability.kit import BIN, clean_env, cli, duplicates, identity, live, make_config

TRIALS = int(os.environ.get("LORAINFRA_CRASH_TRIALS", "30"))
WORKERS = 3


def _known_to_state(doc: dict[str, Any]) -> set[str]:
    """Identities the state knows: recorded resources and pending creates (resolved by reading on the next run)."""
    known = set()
    for r in doc["resources"].values():
        a = r["attributes"]
        if r["kind"] == "deployment":
            known.add(r["remote_name"])
        else:
            known.add(identity({"kind": "lora", **a}))
    for p in doc["pending"].values():
        i = p["identity"]
        known.add(i["remote_name"] if p["kind"] == "deployment" else identity({"kind": "lora", **i}))
    return known


def _trial(n: int, base: Path) -> dict[str, Any]:
    rng = random.Random(n)
    folder = make_config(base / f"t{n}" / "cfg", ready_after=0.2)
    state_file = folder / ".lorainfra" / "state.json"
    db = folder / ".lorainfra" / "emulator.db"
    env = clean_env()
    proc = subprocess.Popen([str(BIN), "apply", str(folder), "--auto-approve"], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL)
    # a quarter of the kills land anywhere from startup on (config load, refresh, plan); the rest land
    # after the applier created the state document, i.e. while operations are starting, in flight or done
    if n % 4 == 0:
        delay = rng.uniform(0.3, 2.5)
    else:
        t0 = time.monotonic()
        while not state_file.exists() and proc.poll() is None and time.monotonic() - t0 < 60:
            time.sleep(0.01)
        delay = rng.uniform(0.0, 0.8)
    try:
        proc.wait(delay)
        finished = True
    except subprocess.TimeoutExpired:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        finished = False
    outcome: dict[str, Any] = {"trial": n, "kill_at": round(delay, 2), "finished_before_kill": finished}
    problems: list[str] = []

    # 1. the state file (if the run got that far) parses, and nothing live is unknown to it
    doc = None
    if state_file.exists():
        try:
            # through the backend: a killed run's last versions may be records in the change log beside the file
            read = LocalBackend(state_file, who="test").read()
            doc = read.to_json() if read is not None else None
        except (ValueError, StateError) as exc:
            problems.append(f"state does not parse: {exc}")
    objs = live(db) if db.exists() else []
    outcome["live_at_kill"] = len(objs)
    outcome["pending_at_kill"] = len(doc["pending"]) if doc else 0
    outcome["recorded_at_kill"] = len(doc["resources"]) if doc else 0
    known = _known_to_state(doc) if doc else set()
    unknown = [identity(o) for o in objs if identity(o) not in known]
    if unknown:
        problems.append(f"live but unknown to the state after the kill: {unknown}")

    # 2. a rerun converges; then plan --detailed-exitcode says there is nothing left to do
    rerun = cli("apply", str(folder), "--auto-approve", env=env)
    if rerun.code != 0:
        problems.append(f"rerun apply exited {rerun.code}: {rerun.out[-1500:]} {rerun.err[-1500:]}")
    outcome["adopted_on_rerun"] = rerun.out.count("adopt") + rerun.err.count("adopt")
    plan = cli("plan", str(folder), "--detailed-exitcode", env=env)
    if plan.code != 0:
        problems.append(f"plan after rerun exited {plan.code}: {plan.out[-1500:]}")

    # 3. nothing was created twice; the state is exactly what is live
    objs = live(db)
    if duplicates(objs):
        problems.append(f"created twice: {duplicates(objs)}")
    if len(objs) != 5:
        problems.append(f"expected 5 live objects, found {len(objs)}")
    final = json.loads(state_file.read_text())
    if {r["remote_name"] for r in final["resources"].values()} != {o["name"] for o in objs} or final["pending"]:
        problems.append(f"state != live: {sorted(final['resources'])} pending={list(final['pending'])}")
    outcome["problems"] = problems
    return outcome


@pytest.mark.slow
def test_sigkill_at_random_moments_never_loses_track(tmp_path: Path) -> None:
    started = time.monotonic()
    with ThreadPoolExecutor(WORKERS) as pool:
        outcomes = list(pool.map(lambda n: _trial(n, tmp_path), range(TRIALS)))
    failed = [o for o in outcomes if o["problems"]]
    kinds = Counter(
        "finished before the kill" if o["finished_before_kill"]
        else "killed with a create in flight (pending marker)" if o["pending_at_kill"]
        else "killed before anything was recorded" if not o["recorded_at_kill"]
        else "killed between operations"
        for o in outcomes
    )
    print(f"\ncrash trials: {len(outcomes)} in {time.monotonic() - started:.0f}s; outcomes {dict(kinds)}; "
          f"live objects at kill {sum(o['live_at_kill'] for o in outcomes)}; "
          f"reruns that adopted an interrupted create {sum(1 for o in outcomes if o['adopted_on_rerun'])}; "
          f"failed {len(failed)}")
    assert len(outcomes) >= 30
    assert not failed, json.dumps(failed, indent=1)[:6000]
    # the kills really hit runs in progress, including creates in flight
    assert kinds["killed with a create in flight (pending marker)"] + kinds["killed between operations"] > 0
