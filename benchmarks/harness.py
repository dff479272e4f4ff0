"""Harness: run a child process and measure it (wall, CPU, peak RSS via wait4), and a served emulator."""

from __future__ import annotations

import json
import os
import shutil
import sys
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lorainfra.emulator.process import EmulatorProcess

API_KEY = "bench"


class BenchError(RuntimeError):
    """Something the benchmark depends on broke (non-zero exit, wrong plan): the suite exits non-zero."""


@dataclass(frozen=True)
class Run:
    """One measured child process."""

    argv: tuple[str, ...]
    wall: float  # seconds
    cpu: float  # user + system seconds of the child
    max_rss_mb: float  # peak resident set size of the child
    returncode: int
    stdout: str
    stderr: str


def lorainfra_argv() -> list[str]:
    exe = Path(sys.executable).parent / "lorainfra"
    if exe.exists():
        return [str(exe)]
    found = shutil.which("lorainfra")
    return [found] if found else [sys.executable, "-m", "lorainfra"]


def child_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("FIREWORKS_")}
    env.update({"FIREWORKS_API_KEY": API_KEY, "PYTHONUNBUFFERED": "1", **extra})
    return env


def measure(argv: list[str], *, env: dict[str, str] | None = None,
            ok: tuple[int, ...] = (0,), timeout: float = 1800.0) -> Run:
    """Run argv to completion; wall clock around fork/exit, CPU and peak RSS from wait4 (this child only)."""
    out_path = Path(os.environ.get("TMPDIR", "/tmp")) / f"bench-{os.getpid()}-{time.monotonic_ns()}"
    with open(f"{out_path}.out", "w+") as out, open(f"{out_path}.err", "w+") as err:
        # posix_spawn (vfork-style): the child never holds a copy of this process's memory, so its
        # ru_maxrss is its own peak; wait4 gives this child's CPU time and peak RSS only.
        exe = argv[0] if os.path.isabs(argv[0]) else (shutil.which(argv[0]) or argv[0])
        actions = [(os.POSIX_SPAWN_OPEN, 0, os.devnull, os.O_RDONLY, 0),
                   (os.POSIX_SPAWN_DUP2, out.fileno(), 1), (os.POSIX_SPAWN_DUP2, err.fileno(), 2)]
        started = time.perf_counter()
        pid = os.posix_spawn(exe, argv, env or child_env(), file_actions=actions)
        deadline = started + timeout
        while True:
            done, status, usage = os.wait4(pid, os.WNOHANG)
            if done:
                break
            if time.perf_counter() > deadline:
                os.kill(pid, 9)
                os.wait4(pid, 0)
                raise BenchError(f"timed out after {timeout:.0f}s: {' '.join(argv)}")
            time.sleep(0.002)
        wall = time.perf_counter() - started
        returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        run = Run(tuple(argv), wall, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024.0,
                  returncode, out.read(), err.read())
    for suffix in (".out", ".err"):
        Path(f"{out_path}{suffix}").unlink(missing_ok=True)
    if run.returncode not in ok:
        raise BenchError(
            f"{' '.join(argv)} exited {run.returncode} (expected {ok})\n--- stdout\n{run.stdout[-3000:]}"
            f"\n--- stderr\n{run.stderr[-3000:]}"
        )
    return run




class ServedEmulator(EmulatorProcess):
    """``python -m benchmarks.server`` in a subprocess: the emulator app behind uvicorn, plus a request counter."""

    def __init__(self, db: Path, *, seed: Path | None = None, ready_after: float = 2.0,
                 deployed_after: float = 1.0, latency_ms: float = 0.0,
                 max_rps: float | None = None, delete_after: float = 0.5, serverless_per_base: int = 3) -> None:
        def command(port: int) -> list[str]:
            argv = [sys.executable, "-m", "benchmarks.server", "--port", str(port), "--db", str(db),
                    "--ready-after", str(ready_after), "--deployed-after", str(deployed_after),
                    "--latency-ms", str(latency_ms), "--delete-after", str(delete_after),
                    "--serverless-per-base", str(serverless_per_base)]
            argv += ["--max-rps", str(max_rps)] if max_rps else []
            return argv + (["--seed", str(seed)] if seed else [])

        root = Path(__file__).resolve().parent.parent
        try:
            super().__init__(command, log=db.with_suffix(".log"), cwd=root,
                             env={**os.environ, "PYTHONPATH": str(root)})
        except RuntimeError as exc:
            raise BenchError(str(exc)) from exc

    def requests(self, reset: bool = False) -> dict[str, Any]:
        with urllib.request.urlopen(f"{self.url}/bench/requests{'?reset=1' if reset else ''}", timeout=10) as r:
            return dict(json.loads(r.read()))

    def cpu_seconds(self) -> float:
        """User + system CPU the emulator process has used so far (Linux /proc; 0 elsewhere)."""
        try:
            fields = Path(f"/proc/{self.proc.pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            return 0.0
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def close(self) -> None:
        self.stop()
