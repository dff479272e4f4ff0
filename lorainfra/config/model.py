"""Config model: the validated, frozen description of what a config folder declares."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from lorainfra import documented
from lorainfra.addresses import Address
from lorainfra.errors import Diagnostic, Span
from lorainfra.frozen import frozen_mapping

LOCAL_ENDPOINT = "local"
DEFAULT_BASE_URL = "https://api.fireworks.ai"
# request-rate ceiling toward the API, requests/second: a small share of the account's 6,000 requests/minute
# (100/s), which inference shares (docs.fireworks.ai/guides/quotas_usage/account-quotas)
DEFAULT_MAX_RPS = 10.0


@dataclass(frozen=True)
class EmulatorSettings:
    """Knobs of the embedded emulator used when ``endpoint: local``."""

    ready_after: float = 2.0  # seconds from CREATING/UPDATING to READY
    deployed_after: float = 1.0  # seconds from DEPLOYING to DEPLOYED
    delete_after: float = 0.5  # seconds in DELETING / UNDEPLOYING
    seed: str | None = None  # YAML/JSON file (relative to the config folder) with a `models:` list


@dataclass(frozen=True)
class Limits:
    """Account limits the plan-time checks enforce (provider.limits), defaulting to the strictest documented."""

    # serverless LoRAs per base model per account: the Preview's 3 (lorainfra.documented, shared with the emulator)
    serverless_per_base_model: int = documented.SERVERLESS_LORAS_PER_BASE_MODEL
    serverless: int = documented.SERVERLESS_LORAS_PER_ACCOUNT  # per account, all bases together (the seed's number)


@dataclass(frozen=True)
class ProviderSettings:
    """Where and as whom to talk to Fireworks. The API key is never part of the config."""

    account: str | None = None  # falls back to FIREWORKS_ACCOUNT_ID
    endpoint: str | None = None  # "local", a URL, or None (FIREWORKS_BASE_URL or https://api.fireworks.ai)
    emulator: EmulatorSettings = field(default_factory=EmulatorSettings)
    span: Span = field(default_factory=lambda: Span("lorainfra.yaml"))
    limits: Limits = field(default_factory=Limits)


@dataclass(frozen=True)
class StateSettings:
    """Which state backend holds the record of what this config manages."""

    backend: str = "local"  # "local" or "postgres"
    path: str | None = None  # local backend: file path (default .lorainfra/state.json)
    dsn_env: str | None = None  # postgres: name of the environment variable holding the DSN
    workspace: str = "default"


@dataclass(frozen=True)
class Lifecycle:
    """Per-resource lifecycle rules."""

    prevent_destroy: bool = False
    adopt: bool = True  # false: a live object the state does not know is a plan error, never adopted
    ignore_changes: tuple[str, ...] = ()  # attribute names (see lorainfra.kinds)


@dataclass(frozen=True)
class Resource:
    """One declared resource: its address, its desired attributes and where it was declared.

    ``attributes`` holds only managed attributes (names from the kind's attribute specs) that the config
    sets, with defaults filled in for attributes that have a known server default.
    ``depends_on`` lists the addresses this resource needs first (a LoRA's deployment).
    ``attribute_spans`` points each attribute at the YAML node that set it.
    """

    address: Address
    attributes: Mapping[str, Any]
    span: Span
    depends_on: tuple[Address, ...] = ()
    attribute_spans: Mapping[str, Span] = field(default_factory=frozen_mapping)
    lifecycle: Lifecycle = field(default_factory=Lifecycle)

    @property
    def kind(self) -> str:
        return self.address.kind

    @property
    def name(self) -> str:
        return self.address.name


@dataclass(frozen=True)
class Move:
    """A ``moved:`` entry (``to`` is set) or a ``removed:`` entry (``to`` is None): state only, never live."""

    source: Address
    to: Address | None
    span: Span


@dataclass(frozen=True)
class Config:
    """A whole validated config folder."""

    root: str  # the config folder (absolute path)
    provider: ProviderSettings
    state: StateSettings
    resources: Mapping[Address, Resource]  # sorted by address
    files: tuple[str, ...] = ()  # config files read, relative to root, sorted
    digest: str = ""  # sha256 over the config files' bytes (name + content), for saved plans
    warnings: tuple[Diagnostic, ...] = ()  # diagnostics of severity "warning": reported, not blocking
    moves: tuple[Move, ...] = ()  # moved: and removed: entries, in file order
    environment: str | None = None  # the environment selected (--env), when lorainfra.yaml declares some

    def resource(self, address: Address) -> Resource:
        return self.resources[address]
