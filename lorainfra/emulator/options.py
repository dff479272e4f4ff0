"""EmulatorOptions: the knobs the real service does not have (timings, faults, limits, seeds)."""

from __future__ import annotations

from dataclasses import dataclass

from lorainfra import documented


@dataclass(frozen=True)
class EmulatorOptions:
    """Tunables of one Emulator instance (timings are in emulated seconds)."""

    ready_after: float = 2.0  # CREATING->READY and UPDATING->READY for deployments
    deployed_after: float = 1.0  # DEPLOYING->DEPLOYED (and UPDATING->DEPLOYED) for deployed models
    delete_after: float = 0.5  # DELETING->DELETED/gone and UNDEPLOYING->gone
    api_key: str | None = None  # if set, only this bearer token is accepted; else any non-empty token
    seed_models: tuple[dict, ...] = ()  # extra Model objects in wire format (each has "name")
    latency_ms: float = 0.0  # added to every /v1 request
    fault_rate: float = 0.0  # fraction of /v1 requests answered by an injected fault
    fail_pattern: str | None = None  # regex on deployment IDs / model names that end FAILED
    fault_seed: int | None = None
    serverless_limit: int = documented.SERVERLESS_LORAS_PER_ACCOUNT  # serverless LoRAs per account
    # serverless LoRAs per base model per account (the documented Preview limit)
    serverless_per_base_limit: int = documented.SERVERLESS_LORAS_PER_BASE_MODEL
    serverless_lora_bases: tuple[str, ...] = documented.SERVERLESS_LORA_BASES  # bases that take serverless LoRAs
    idle_delete_after: float = 7 * 86400  # minReplicaCount==0 deployments auto-deleted after this idle time
    serverless_idle_unload_after: float | None = 7 * 86400  # serverless LoRAs auto-unloaded (None: never)
    max_rps: float | None = None  # account request rate limit (requests per second); None: no limit
    # create also deploys the base model onto the deployment (a deployedModels row that is not a LoRA), as
    # Fireworks does; lorainfra's provider leaves such rows out of a refresh (LoraKind.platform_owned)
    auto_deploy_base: bool = True
    purge_after: float = 7 * 86400  # soft-deleted deployments are purged (404) this long after deleteTime
