"""``python -m benchmarks [--small]``: run every benchmark, print the table, write benchmarks/results.md."""

from __future__ import annotations

import argparse
import datetime as dt
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from statistics import median

from benchmarks import fleet
from benchmarks.fleet_bench import bench_fleet
from benchmarks.harness import BenchError, Run, ServedEmulator, child_env, lorainfra_argv, measure
from benchmarks.upload_bench import bench_upload

ROOT = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class Profile:
    """Sizes and timings of one suite run (full or --small)."""

    name: str
    plan_scales: tuple[int, ...]  # deployments; each has 10 LoRAs
    plan_repeats: int
    apply_deployments: int
    apply_loras: int
    latency_ms: float
    ready_after: float
    deployed_after: float
    parallelism: int
    startup_repeats: int
    fleet_scales: tuple[float, ...]  # issue 16's fleet: 1 = 1,070 resources, 10 = 10,700
    fleet_plan_at: float | None  # the scale planned at 50 ms/request
    upload_bytes: int = 1 << 30  # issue 14: one model of this many bytes of adapter files


FULL = Profile("full", (10, 100, 1000), 3, 20, 10, 50.0, 2.0, 1.0, 256, 10, (1, 10), 10)
SMALL = Profile("small", (2, 10), 1, 2, 2, 10.0, 0.3, 0.2, 256, 3, (0.05, 0.1), 0.1, 4 << 20)


@dataclass
class Report:
    rows: list[tuple[str, str, str, str]] = field(default_factory=list)  # benchmark, result, target, verdict
    notes: list[str] = field(default_factory=list)

    def add(self, what: str, result: str, target: str = "", met: bool | None = None) -> None:
        verdict = "" if met is None else ("met" if met else "**missed**")
        self.rows.append((what, result, target, verdict))
        print(f"  {what}: {result}" + (f"  [target {target}: {verdict.strip('*')}]" if target else ""), flush=True)


def _best(runs: list[Run]) -> Run:
    return min(runs, key=lambda r: r.wall)


# ------------------------------------------------------------------------------------------- plan
def bench_plan(p: Profile, work: Path, report: Report) -> None:
    print(f"plan at scale: {', '.join(f'{d}x10' for d in p.plan_scales)} (seeding...)", flush=True)
    seed_file = fleet.write_seed_file(work / "models.json", fleet.lora_models())
    db = work / "plan.db"
    folders = {}
    for deployments in p.plan_scales:
        folder = fleet.write_config(work / f"plan-{deployments}", f"plan-{deployments}", deployments, 10)
        started = time.perf_counter()
        n = fleet.seed_in_subprocess(folder, db)
        print(f"  seeded {n} resources for {folder.name} in {time.perf_counter() - started:.1f}s", flush=True)
        folders[deployments] = (folder, n)
    with ServedEmulator(db, seed=seed_file) as emu:
        for deployments, (folder, n) in folders.items():
            runs, counts = [], []
            for _ in range(p.plan_repeats):
                emu.requests(reset=True)
                runs.append(measure([*lorainfra_argv(), "plan", str(folder), "--endpoint", emu.url,
                                     "--detailed-exitcode"]))
                counts.append(emu.requests()["total"])
                if "No changes" not in runs[-1].stdout:
                    raise BenchError(f"plan of {folder} is not empty:\n{runs[-1].stdout[-2000:]}")
            best = _best(runs)
            loras = deployments * 10
            label = f"plan, {deployments:,} deployments + {loras:,} LoRAs ({n:,} resources, no changes)"
            result = (f"{best.wall:.2f} s wall (median {median(r.wall for r in runs):.2f}), {best.cpu:.2f} s CPU, "
                      f"{best.max_rss_mb:.0f} MB peak RSS, {max(counts)} HTTP requests")
            if n >= 11000:
                report.add(label, result, "< 3 s wall, < 300 MB, <= ~60 requests",
                           best.wall < 3 and best.max_rss_mb < 300 and max(counts) <= 60)
            else:
                report.add(label, result)


# ------------------------------------------------------------------------------------------ apply
def bench_apply(p: Profile, work: Path, report: Report, *, sdk: bool) -> None:
    d, lpd = p.apply_deployments, p.apply_loras
    print(f"apply at scale: {d} deployments x {lpd} LoRAs, {p.latency_ms:.0f} ms/request, "
          f"{p.ready_after:g} s to READY, {p.deployed_after:g} s to DEPLOYED", flush=True)
    seed_file = fleet.write_seed_file(work / "models.json", fleet.lora_models())
    folder = fleet.write_config(work / "apply", "apply-lorainfra", d, lpd)
    # requests on the critical path: create, the GET that sees READY, load, the GET that sees DEPLOYED
    bound = p.ready_after + p.deployed_after + 4 * p.latency_ms / 1000
    with ServedEmulator(work / "apply.db", seed=seed_file, ready_after=p.ready_after,
                        deployed_after=p.deployed_after, latency_ms=p.latency_ms) as emu:
        emu.requests(reset=True)
        run = measure([*lorainfra_argv(), "apply", str(folder), "--endpoint", emu.url, "--auto-approve",
                       "--parallelism", str(p.parallelism)])
        count = emu.requests()["total"]
        check = measure([*lorainfra_argv(), "plan", str(folder), "--endpoint", emu.url, "--detailed-exitcode"])
        if "No changes" not in check.stdout:
            raise BenchError(f"plan after apply is not empty:\n{check.stdout[-2000:]}")
        ratio = run.wall / bound
        report.add(f"apply, {d} deployments x {lpd} LoRAs from empty (lorainfra, --parallelism {p.parallelism})",
                   f"{run.wall:.2f} s wall, {run.cpu:.2f} s CPU, {run.max_rss_mb:.0f} MB, {count} HTTP requests")
        report.add("apply vs critical-path bound "
                   f"({p.ready_after:g} s + {p.deployed_after:g} s + 4 x {p.latency_ms:.0f} ms = {bound:.2f} s)",
                   f"{ratio:.2f}x", "<= 1.3x", ratio <= 1.3)
        if not sdk:
            return
        emu.requests(reset=True)
        sdk_run = measure([sys.executable, "-m", "benchmarks.sdk_sequential", "--url", emu.url,
                           "--account", "apply-sdk", "--deployments", str(d), "--loras", str(lpd)],
                          env={**child_env(), "PYTHONPATH": str(ROOT)})
        sdk_count = emu.requests()["total"]
        report.add("same fleet, sequential script with the official fireworks-ai SDK (poll every 0.1 s)",
                   f"{sdk_run.wall:.2f} s wall, {sdk_count} HTTP requests")
        speedup = sdk_run.wall / run.wall
        report.add("apply speed-up over the sequential SDK script", f"{speedup:.1f}x", ">= 10x", speedup >= 10)


# ---------------------------------------------------------------------------------------- startup
def bench_startup(p: Profile, report: Report) -> None:
    print("CLI start-up", flush=True)
    quickstart = ROOT / "examples" / "quickstart"
    cases = [
        ("python -c pass (interpreter floor, for reference)", [sys.executable, "-c", "pass"], None),
        ("lorainfra --help", [*lorainfra_argv(), "--help"], 0.3),
        ("lorainfra validate examples/quickstart", [*lorainfra_argv(), "validate", str(quickstart)], None),
    ]
    for label, argv, target in cases:
        runs = [measure(argv) for _ in range(p.startup_repeats)]
        best = _best(runs)
        result = f"{best.wall * 1000:.0f} ms best of {len(runs)} (median {median(r.wall for r in runs) * 1000:.0f} ms), {best.max_rss_mb:.0f} MB"
        if target is None:
            report.add(label, result)
        else:
            report.add(label, result, f"< {target * 1000:.0f} ms", best.wall < target)


# ----------------------------------------------------------------------------------------- output
def machine() -> list[str]:
    def git(*args: str) -> str:
        try:
            return subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True, check=True).stdout.strip()
        except (OSError, subprocess.CalledProcessError):
            return "?"

    dirty = git("status", "--porcelain", "--", "lorainfra", "benchmarks", "pyproject.toml")
    return [
        f"- date: {dt.datetime.now(dt.UTC).strftime('%Y-%m-%d %H:%M UTC')}",
        f"- git commit: {git('rev-parse', '--short=12', 'HEAD')}{' (+ uncommitted changes)' if dirty else ''}",
        f"- machine: {os.cpu_count()} CPUs, {platform.machine()}, {platform.system()} {platform.release()}",
        f"- python: {platform.python_version()} ({platform.python_implementation()})",
    ]


def table(report: Report) -> str:
    lines = ["| benchmark | result | target | |", "|---|---|---|---|"]
    lines += [f"| {a} | {b} | {c} | {d} |" for a, b, c, d in report.rows]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__)
    ap.add_argument("--small", action="store_true", help="seconds, not minutes (CI): tiny sizes, short waits")
    ap.add_argument("--no-sdk", action="store_true", help="skip the sequential SDK comparison")
    ap.add_argument("--only", choices=["plan", "apply", "fleet", "startup", "upload"], action="append", help="run only these")
    ap.add_argument("--out", default=None, help="results file (default benchmarks/results.md; small: none)")
    ap.add_argument("--keep", action="store_true", help="keep the work folder (config folders, dbs)")
    args = ap.parse_args(argv)
    p = SMALL if args.small else FULL
    only = set(args.only or ["plan", "apply", "fleet", "startup", "upload"])
    work = Path(tempfile.mkdtemp(prefix="lorainfra-bench-"))
    os.environ.setdefault("PYTHONPATH", str(ROOT))
    report = Report()
    started = time.perf_counter()
    try:
        if "startup" in only:
            bench_startup(p, report)
        if "plan" in only:
            bench_plan(p, work, report)
        if "apply" in only:
            bench_apply(p, work, report, sdk=not args.no_sdk)
        if "fleet" in only:
            bench_fleet(p.fleet_scales, work, report.add, plan_at=p.fleet_plan_at)
        if "upload" in only:
            bench_upload(p.upload_bytes, work, report.add)
    except BenchError as exc:
        print(f"\nBENCHMARK BROKEN: {exc}", file=sys.stderr)
        return 1
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
        else:
            print(f"work folder kept: {work}")
    head = [f"# lorainfra benchmark results ({p.name})", "", *machine(),
            f"- suite wall time: {time.perf_counter() - started:.0f} s", "",
            "Produced by `.venv/bin/python -m benchmarks`" + (" --small" if args.small else "")
            + "; see docs/performance.md for what each row measures.", ""]
    text = "\n".join(head) + table(report) + "\n"
    print("\n" + text)
    out = args.out or (None if args.small else str(ROOT / "benchmarks" / "results.md"))
    if out:
        Path(out).write_text(text)
        print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
