"""State model: lineage, serial, managed resources, last-applied attributes and pending operations."""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from lorainfra.config.model import frozen_mapping
from lorainfra.errors import StateError

FORMAT_VERSION = 1


@dataclass(frozen=True)
class ResourceState:
    """A managed resource as last applied: which live object it is and what we set on it."""

    address: str  # "deployment.NAME" / "lora.NAME"
    kind: str
    remote_name: str  # full Fireworks resource name, e.g. accounts/a/deployments/d
    attributes: Mapping[str, Any] = field(default_factory=frozen_mapping)  # last applied, no secrets
    dependencies: tuple[str, ...] = ()  # addresses, recorded at apply time (deletes need them)
    observed_digest: str = ""  # digest of the live object right after the last apply (drift detection)

    def to_json(self) -> dict[str, Any]:
        return {
            "address": self.address,
            "kind": self.kind,
            "remote_name": self.remote_name,
            "attributes": dict(self.attributes),
            "dependencies": list(self.dependencies),
            "observed_digest": self.observed_digest,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> ResourceState:
        return cls(
            address=str(data["address"]),
            kind=str(data["kind"]),
            remote_name=str(data["remote_name"]),
            attributes=frozen_mapping(data.get("attributes") or {}),
            dependencies=tuple(data.get("dependencies") or ()),
            observed_digest=str(data.get("observed_digest") or ""),
        )


@dataclass(frozen=True)
class PendingOp:
    """An operation started but not known to have finished (written before a create is sent).

    ``identity`` is what finds the object again after a crash: ``{"remote_name": ...}`` for a
    deployment (we choose its ID), ``{"model": ..., "deployment": ..., "serverless": ...}`` for a LoRA
    (the server chooses the deployed-model ID).
    """

    address: str
    operation: str  # "create" | "delete" | "update"
    kind: str
    identity: Mapping[str, Any] = field(default_factory=frozen_mapping)
    attributes: Mapping[str, Any] = field(default_factory=frozen_mapping)
    dependencies: tuple[str, ...] = ()
    started_at: str = ""

    def to_json(self) -> dict[str, Any]:
        return {
            "address": self.address,
            "operation": self.operation,
            "kind": self.kind,
            "identity": dict(self.identity),
            "attributes": dict(self.attributes),
            "dependencies": list(self.dependencies),
            "started_at": self.started_at,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> PendingOp:
        return cls(
            address=str(data["address"]),
            operation=str(data["operation"]),
            kind=str(data["kind"]),
            identity=frozen_mapping(data.get("identity") or {}),
            attributes=frozen_mapping(data.get("attributes") or {}),
            dependencies=tuple(data.get("dependencies") or ()),
            started_at=str(data.get("started_at") or ""),
        )


def _version_problem(version: object) -> str:
    """Why a state document's format_version cannot be read, and what to write instead."""
    if type(version) is int:
        action = "upgrade lorainfra to read it" if version > FORMAT_VERSION else "this lorainfra cannot read it"
        return f"state format_version {version} is not supported (this lorainfra reads {FORMAT_VERSION}); {action}"
    if version is None:
        shown = "missing"
    elif isinstance(version, str):
        shown = f"the string {version!r}"
    else:
        shown = f"{json.dumps(version)[:40]} ({type(version).__name__})"
    return (f"state format_version is {shown}: write \"format_version\": {FORMAT_VERSION} "
            "(a number, without quotes) in the state document")


@dataclass(frozen=True)
class State:
    """One version of the state document. Never mutated: every change makes a new State."""

    lineage: str
    serial: int = 0
    resources: Mapping[str, ResourceState] = field(default_factory=frozen_mapping)
    pending: Mapping[str, PendingOp] = field(default_factory=frozen_mapping)
    format_version: int = FORMAT_VERSION
    # the Fireworks account and endpoint host the resources live in ("" until a plan binds the state)
    account: str = ""
    endpoint: str = ""

    @classmethod
    def new(cls, lineage: str | None = None) -> State:
        return cls(lineage=lineage or str(uuid.uuid4()))

    # -- derivation (each returns a new State; the serial is bumped by the backend on write) --
    def with_resource(self, resource: ResourceState) -> State:
        resources = dict(self.resources)
        resources[resource.address] = resource
        return replace(self, resources=frozen_mapping(resources))

    def without_resource(self, address: str) -> State:
        resources = dict(self.resources)
        resources.pop(address, None)
        return replace(self, resources=frozen_mapping(resources))

    def with_pending(self, op: PendingOp) -> State:
        pending = dict(self.pending)
        pending[op.address] = op
        return replace(self, pending=frozen_mapping(pending))

    def without_pending(self, address: str) -> State:
        pending = dict(self.pending)
        pending.pop(address, None)
        return replace(self, pending=frozen_mapping(pending))

    def next_serial(self) -> State:
        return replace(self, serial=self.serial + 1)

    def bound_to(self, account: str, endpoint: str) -> State:
        """This state for ``account`` at ``endpoint``; an error if it records another account."""
        if self.account and self.account != account:
            where = f" at {self.endpoint}" if self.endpoint else ""
            raise StateError(
                f"the state belongs to account {self.account!r}{where}, but this run uses account {account!r} at "
                f"{endpoint}: planning would report every resource as vanished; set provider.account (or "
                f"FIREWORKS_ACCOUNT_ID) back to {self.account!r}, or give account {account!r} a state of its own "
                "(another state path or workspace)")
        return replace(self, account=account, endpoint=endpoint)

    # -- serialisation (sorted keys: byte-stable output) --
    def to_json(self) -> dict[str, Any]:
        return {
            "format_version": self.format_version,
            "lineage": self.lineage,
            "serial": self.serial,
            "resources": {k: v.to_json() for k, v in sorted(self.resources.items())},
            "pending": {k: v.to_json() for k, v in sorted(self.pending.items())},
            **({"account": self.account} if self.account else {}),
            **({"endpoint": self.endpoint} if self.endpoint else {}),
        }

    def dumps(self) -> str:
        return json.dumps(self.to_json(), indent=2, sort_keys=True) + "\n"

    @classmethod
    def from_json(cls, data: Any) -> State:
        if not isinstance(data, dict):
            raise StateError("state document is not a JSON object")
        version = data.get("format_version")
        if type(version) is not int or version != FORMAT_VERSION:
            raise StateError(_version_problem(version))
        try:
            return cls(
                lineage=str(data["lineage"]),
                serial=int(data["serial"]),
                resources=frozen_mapping(
                    {k: ResourceState.from_json(v) for k, v in (data.get("resources") or {}).items()}
                ),
                pending=frozen_mapping(
                    {k: PendingOp.from_json(v) for k, v in (data.get("pending") or {}).items()}
                ),
                account=str(data.get("account") or ""),
                endpoint=str(data.get("endpoint") or ""),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise StateError(f"state document is malformed: {exc}") from exc

    @classmethod
    def loads(cls, text: str) -> State:
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise StateError(f"state is not valid JSON: {exc}") from exc
        return cls.from_json(data)
