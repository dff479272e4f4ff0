"""The same fleet, scripted the way a user would without lorainfra: the official ``fireworks-ai`` SDK, one
thing after another (create a deployment, poll it to READY, load each LoRA and poll it to DEPLOYED).

``python -m benchmarks.sdk_sequential --url URL --account A --deployments D --loras L [--poll 0.1]``
"""

from __future__ import annotations

import argparse
import time

from fireworks import Fireworks

from benchmarks.fleet import LLAMA_8B, MODELS_ACCOUNT


def wait(fetch, target: str, poll: float) -> None:  # type: ignore[no-untyped-def]
    while True:
        state = fetch().state
        if state == target:
            return
        if state in ("FAILED", "DELETED"):
            raise SystemExit(f"unexpected state {state}")
        time.sleep(poll)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--url", required=True)
    p.add_argument("--account", required=True)
    p.add_argument("--deployments", type=int, required=True)
    p.add_argument("--loras", type=int, required=True)
    p.add_argument("--poll", type=float, default=0.1, help="seconds between polls (a tight, fair loop)")
    a = p.parse_args()
    client = Fireworks(base_url=a.url, api_key="bench", account_id=a.account)
    for d in range(a.deployments):
        dep_id = f"base-{d:04d}"
        client.deployments.create(
            deployment_id=dep_id, base_model=LLAMA_8B, accelerator_type="NVIDIA_H100_80GB",
            accelerator_count=1, min_replica_count=1, max_replica_count=2, enable_addons=True,
        )
        wait(lambda d=dep_id: client.deployments.get(d), "READY", a.poll)
        for m in range(a.loras):
            dm = client.lora.load(model=f"accounts/{MODELS_ACCOUNT}/models/bench-lora-{m:02d}",
                                  deployment=f"accounts/{a.account}/deployments/{dep_id}")
            dm_id = dm.name.rsplit("/", 1)[1]
            wait(lambda i=dm_id: client.lora.get(i), "DEPLOYED", a.poll)
    client.close()


if __name__ == "__main__":
    main()
