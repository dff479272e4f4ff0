"""Fleet fixtures: generate a config folder of D deployments x L LoRAs, and seed an account that matches it.

Seeding is done with lorainfra's own provider (``providers.fireworks``) talking in-process to the
emulator app (``httpx.ASGITransport``) with instant READY/DEPLOYED, so every deployment and LoRA is
created through the real API handlers (validation, constraints, state machines) -- only without
sockets and waits. The state is then written with ``lorainfra.state`` exactly as ``apply`` would have
recorded it: the config's attributes, the LoRA -> deployment dependency, the live resource name and
the digest of the live object after it became ready.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

LLAMA_8B = "accounts/fireworks/models/llama-v3p1-8b-instruct"
SERVERLESS_BASE = "accounts/fireworks/models/glm-5p3-flash"  # an emulated base that supports serverless LoRA
MODELS_PER_FLEET = 12  # LoRA models, shared by every deployment (plan fleets load the first 10)
MODELS_ACCOUNT = "bench"  # the LoRA models live here; every benchmark account loads them


def _peft_models(account: str, names: list[tuple[str, str]], base: str, rank: int) -> list[dict[str, Any]]:
    """READY LoRA addon Model objects (wire format) trained on ``base``: (model ID, display name) each."""
    return [
        {
            "name": f"accounts/{account}/models/{model_id}",
            "displayName": display,
            "kind": "HF_PEFT_ADDON",
            "state": "READY",
            "peftDetails": {"baseModel": base, "r": rank, "targetModules": ["q_proj", "v_proj"]},
        }
        for model_id, display in names
    ]


def lora_models(account: str = MODELS_ACCOUNT, n: int = MODELS_PER_FLEET) -> list[dict[str, Any]]:
    """Seed Model objects (wire format): READY LoRA addons trained on Llama 3.1 8B."""
    return _peft_models(account, [(f"bench-lora-{i:02d}", f"bench LoRA {i}") for i in range(n)], LLAMA_8B, 16)


def serverless_models(n: int, account: str = MODELS_ACCOUNT) -> list[dict[str, Any]]:
    """Seed Model objects for serverless LoRAs: one per LoRA (a model loads serverless once), on a base
    model that supports serverless LoRA."""
    return _peft_models(account, [(f"bench-serverless-{i:03d}", f"bench serverless LoRA {i}") for i in range(n)],
                        SERVERLESS_BASE, 8)


def write_seed_file(path: Path, models: list[dict[str, Any]]) -> Path:
    import json

    path.write_text(json.dumps({"models": models}, indent=1))
    return path


def write_config(folder: Path, account: str, deployments: int, loras_per: int) -> Path:
    """A config folder: lorainfra.yaml + deployments.yaml + loras.yaml (local state backend)."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "lorainfra.yaml").write_text(
        f"provider:\n  account: {account}\nstate:\n  backend: local\n"
    )
    dep_lines = ["deployments:"]
    lora_lines = ["loras:"]
    for d in range(deployments):
        dep = f"base-{d:04d}"
        dep_lines += [
            f"  {dep}:",
            f"    base_model: {LLAMA_8B}",
            "    accelerator: {type: NVIDIA_H100_80GB, count: 1}",
            "    replicas: {min: 1, max: 2}",
            "    addons: true",
        ]
        for m in range(loras_per):
            lora_lines += [
                f"  {dep}-lora-{m:02d}:",
                f"    model: accounts/{MODELS_ACCOUNT}/models/bench-lora-{m:02d}",
                f"    deployment: {dep}",
            ]
    (folder / "deployments.yaml").write_text("\n".join(dep_lines) + "\n")
    (folder / "loras.yaml").write_text("\n".join(lora_lines) + ("\n" if loras_per else " {}\n"))
    return folder


def write_fleet(folder: Path, account: str, scale: float) -> tuple[Path, int]:
    """Issue 16's fleet at ``scale`` (10 = full): 80*scale multi-LoRA bases with 12 LoRAs each,
    10*scale live-merge deployments, 10*scale plain ones and 10*scale serverless LoRAs, in 10 files.

    scale 10 is 10,700 resources, scale 1 is 1,070. Returns the folder and its resource count.
    """
    folder.mkdir(parents=True, exist_ok=True)
    # the emulator is served with 100 serverless LoRAs per base (the Preview allows 3): say so to the plan-time check
    (folder / "lorainfra.yaml").write_text(f"provider:\n  account: {account}\n  limits: {{serverless_per_base_model: 100}}\n"
                                           "state:\n  backend: local\n")
    bases, per_base, others = round(80 * scale), 12, max(1, round(10 * scale))
    files: list[list[str]] = [[] for _ in range(8)]  # 8 files of bases + their LoRAs
    for b in range(bases):
        dep = f"base-{b:04d}"
        lines = files[b % 8]
        lines += ["deployments:" if not lines else "", f"  {dep}:", f"    base_model: {LLAMA_8B}",
                  "    accelerator: {type: NVIDIA_H100_80GB, count: 1}", "    replicas: {min: 1, max: 2}",
                  "    addons: true"]
    for i, lines in enumerate(files):
        loras = [f"  base-{b:04d}-lora-{m:02d}:\n    model: accounts/{MODELS_ACCOUNT}/models/bench-lora-{m:02d}\n"
                 f"    deployment: base-{b:04d}" for b in range(i, bases, 8) for m in range(per_base)]
        body = "\n".join(line for line in lines if line)
        (folder / f"fleet-{i}.yaml").write_text(body + ("\nloras:\n" + "\n".join(loras) if loras else "") + "\n")
    merged = [f"  merged-{d:03d}:\n    base_model: accounts/{MODELS_ACCOUNT}/models/bench-lora-{d % per_base:02d}\n"
              "    accelerator: {type: NVIDIA_H100_80GB, count: 1}\n    replicas: {min: 1, max: 1}"
              for d in range(others)]
    plain = [f"  plain-{d:03d}:\n    base_model: {LLAMA_8B}\n    accelerator: {{type: NVIDIA_H100_80GB, count: 1}}\n"
             "    replicas: {min: 0, max: 1}" for d in range(others)]
    (folder / "single.yaml").write_text("deployments:\n" + "\n".join(merged + plain) + "\n")
    serverless = [f"  serverless-{s:03d}:\n    model: accounts/{MODELS_ACCOUNT}/models/bench-serverless-{s:03d}\n"
                  "    serverless: true" for s in range(others)]
    (folder / "serverless.yaml").write_text("loras:\n" + "\n".join(serverless) + "\n")
    return folder, bases * (1 + per_base) + 3 * others


async def _seed_account(folder: Path, db: Path, models: list[dict[str, Any]], concurrency: int = 64) -> int:
    from lorainfra.config.loader import load_config
    from lorainfra.config.model import frozen_mapping
    from lorainfra.emulator import Emulator, EmulatorOptions
    from lorainfra.kinds.registry import kind_of
    from lorainfra.providers.fireworks import local_provider
    from lorainfra.state.local import LocalBackend
    from lorainfra.state.model import ResourceState, State

    config = load_config(folder)
    account = config.provider.account
    emulator = Emulator(db, EmulatorOptions(ready_after=0.0, deployed_after=0.0, seed_models=tuple(models)))
    with emulator.store.tx() as conn:
        # Seeding-speed fixture only (see docs/performance.md, "emulator"): without it every load scans all
        # rows of its model across the account (the planner picks deployed_models_model), O(N^2) at 10k.
        conn.execute("CREATE INDEX IF NOT EXISTS bench_dm_dep_model ON deployed_models(deployment, model)")
    provider = local_provider(emulator.app, account=account, api_key="bench", max_rps=0)
    gate = asyncio.Semaphore(concurrency)
    try:
        resources = list(config.resources.values())

        async def create(res: Any) -> None:
            async with gate:
                await provider.create(res.kind, res.name, res.attributes)

        await asyncio.gather(*(create(r) for r in resources if r.kind == "deployment"))
        await asyncio.gather(*(create(r) for r in resources if r.kind == "lora"))
        observed = await provider.refresh()
        managed = {}
        for res in resources:
            kind = kind_of(res.kind)
            obj = kind.find(kind.identity(res.name, res.attributes, account), observed)
            assert obj is not None, f"{res.address} was not created"
            managed[str(res.address)] = ResourceState(
                str(res.address), res.kind, obj.name, res.attributes,
                tuple(str(d) for d in res.depends_on), obj.digest,
            )
        state = State(lineage=State.new().lineage, resources=frozen_mapping(managed))
        LocalBackend(folder / ".lorainfra" / "state.json", who="benchmarks").write(state, operation="benchmark seed")
        return len(resources)
    finally:
        await provider.aclose()
        emulator.close()


def seed_account(folder: Path, db: Path, models: list[dict[str, Any]]) -> int:
    """Create every resource of the config folder in the emulator db and record it in the folder's state."""
    return asyncio.run(_seed_account(folder, db, models))


def seed_in_subprocess(folder: Path, db: Path) -> int:
    """seed_account in a child process, so the benchmark driver stays small.

    Children are started with posix_spawn (vfork): at exec the kernel folds the parent's peak RSS into
    the child's ru_maxrss, so a driver that had seeded 11,000 objects in-process would inflate every
    measured peak. Run this way, the floor is the driver's own ~25 MB.
    """
    import os
    import subprocess
    import sys

    root = Path(__file__).resolve().parent.parent
    out = subprocess.run(
        [sys.executable, "-m", "benchmarks.fleet", str(folder), str(db)],
        env={**os.environ, "PYTHONPATH": str(root)}, capture_output=True, text=True,
    )
    if out.returncode != 0:
        raise RuntimeError(f"seeding {folder} failed:\n{out.stderr[-3000:]}")
    return int(out.stdout.strip().splitlines()[-1])


if __name__ == "__main__":
    import sys

    print(seed_account(Path(sys.argv[1]), Path(sys.argv[2]), lora_models()))
