"""An emulator account holding many deployments, written straight into its store (fast; not created in name
order), for the listing tests."""

from __future__ import annotations

from lorainfra.emulator import Emulator
from lorainfra.emulator.clock import rfc3339
from lorainfra.emulator.store import insert_row

ACCOUNT = "acme"
TEMPLATE = {"baseModel": "accounts/fireworks/models/llama-v3p1-8b-instruct", "state": "READY",
            "acceleratorType": "NVIDIA_H100_80GB", "acceleratorCount": 1, "minReplicaCount": 0, "maxReplicaCount": 1}


def deployment_name(i: int) -> str:
    return f"accounts/{ACCOUNT}/deployments/d{(i * 7919) % 100003:06d}-{i}"  # not created in name order


def insert_deployments(emu: Emulator, ids: range) -> None:
    """Deployment ``i`` created at 1000 + i seconds."""
    with emu.store.tx() as db:
        for i in ids:
            name = deployment_name(i)
            insert_row(db, "deployments", {
                "account": ACCOUNT, "id": name.rsplit("/", 1)[1], "name": name, "state": "READY",
                "create_time": 1000.0 + i, "update_time": 1000.0 + i, "next_at": None,
                "data": {**TEMPLATE, "name": name, "createTime": rfc3339(1000.0 + i)}, "internal": {}})
