"""Provider protocol and the live-object values it returns."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, Protocol

from lorainfra.config.model import frozen_mapping

# terminal states per kind
DEPLOYMENT_READY = "READY"
LORA_READY = "DEPLOYED"
FAILED = "FAILED"
# States in which a live object no longer serves and counts as gone: a deployment being deleted, a LoRA
# being unloaded (the DeployedModel enum has no DELETED; an UNDEPLOYING copy is on its way out).
GONE_STATES = {"deployment": frozenset({"DELETED", "DELETING"}), "lora": frozenset({"UNDEPLOYING"})}
# A LoRA load that failed: the DeployedModel enum has no FAILED; the Build SDK reads STATE_UNSPECIFIED
# with a status message as a failed load (fireworks/llm/llm.py).
_LORA_LOADING = frozenset({"DEPLOYING", "UPDATING", "DEPLOYED", "UNDEPLOYING"})


def digest_of(value: Any) -> str:
    """A short stable digest of a JSON-able value (sorted keys)."""
    blob = json.dumps(value, sort_keys=True, separators=(",", ":"), default=str).encode()
    return hashlib.sha256(blob).hexdigest()[:16]


@dataclass(frozen=True)
class RemoteObject:
    """A live object as lorainfra sees it: managed attributes only (never secrets), plus its state."""

    kind: str  # "deployment" | "lora"
    name: str  # full resource name
    state: str = ""
    attributes: Mapping[str, Any] = field(default_factory=frozen_mapping)
    status_message: str = ""
    create_time: str = ""
    update_time: str = ""

    @cached_property
    def digest(self) -> str:
        """Digest of what a plan depends on: managed attributes and state."""
        return digest_of({"a": dict(self.attributes), "s": self.state, "n": self.name})

    @property
    def gone(self) -> bool:
        """Being deleted / unloaded, or deleted: no longer serving, and not what a config entry describes."""
        return self.state in GONE_STATES.get(self.kind, frozenset())

    @property
    def failed(self) -> bool:
        """The object will not become ready by waiting: FAILED, or a LoRA load that stopped with an error."""
        if self.state == FAILED:
            return True
        return self.kind == "lora" and bool(self.status_message) and self.state not in _LORA_LOADING

    @property
    def short_id(self) -> str:
        return self.name.rsplit("/", 1)[-1]


def lora_identity(attributes: Mapping[str, Any]) -> tuple[str, str, bool]:
    """What identifies a loaded LoRA: its model, its deployment ID ("" when serverless), serverless."""
    return (str(attributes.get("model", "")), str(attributes.get("deployment", "") or ""),
            bool(attributes.get("serverless", False)))


@dataclass(frozen=True)
class Observed:
    """Everything refresh saw in the account, keyed by resource name."""

    objects: Mapping[str, RemoteObject] = field(default_factory=frozen_mapping)
    requests: int = 0

    def get(self, name: str) -> RemoteObject | None:
        return self.objects.get(name)

    @cached_property
    def _loras(self) -> dict[tuple[str, str, bool], RemoteObject]:
        index: dict[tuple[str, str, bool], RemoteObject] = {}
        for name in sorted(self.objects):  # first by name wins: deterministic
            obj = self.objects[name]
            if obj.kind == "lora" and not obj.gone:
                index.setdefault(lora_identity(obj.attributes), obj)
        return index

    def find_lora(self, model: str, deployment: str, serverless: bool) -> RemoteObject | None:
        """The loaded LoRA with this identity (model + deployment ID or serverless), if any. O(1)."""
        return self._loras.get((model, deployment, bool(serverless)))


@dataclass(frozen=True)
class ModelInfo:
    """What a plan needs to know about a model (base or LoRA) before loading it."""

    name: str
    kind: str = ""
    state: str = ""
    base_model: str = ""  # peftDetails.baseModel for LoRA addons
    supports_lora: bool = False
    supports_serverless: bool = False


class Provider(Protocol):
    """What the engine needs from a live account. Implemented by ``providers.fireworks``."""

    account: str

    def deployment_name(self, deployment_id: str) -> str:
        """Full resource name of a deployment ID in this account."""
        ...

    async def refresh(self) -> Observed:
        """Every deployment and loaded LoRA in the account, read with paged LIST calls."""
        ...

    async def get(self, kind: str, name: str) -> RemoteObject | None:
        """One live object, or None when it does not exist (404)."""
        ...

    async def list_objects(self, kind: str) -> list[RemoteObject]:
        """Every live object of one kind, read with paged LIST calls."""
        ...

    async def find_lora(self, model: str, deployment: str, serverless: bool) -> RemoteObject | None:
        """The live loaded LoRA with this identity, or None."""
        ...

    async def get_model(self, name: str) -> ModelInfo | None:
        """A model's readiness and base, or None when it does not exist."""
        ...

    async def create(
        self, kind: str, resource_id: str, attributes: Mapping[str, Any], *, validate_only: bool = False
    ) -> RemoteObject:
        """Create a deployment (ID chosen by us) or load a LoRA; a 409 raises ApiError(status=409)."""
        ...

    async def update(
        self, kind: str, name: str, attributes: Mapping[str, Any], changed: tuple[str, ...]
    ) -> RemoteObject:
        """PATCH exactly the ``changed`` attributes (sent as updateMask)."""
        ...

    async def delete(self, kind: str, name: str) -> None:
        """Delete a deployment / unload a LoRA; an object already gone counts as done."""
        ...

    async def aclose(self) -> None: ...
