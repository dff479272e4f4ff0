"""Wire mapping: flat snake_case attributes to and from Fireworks' camelCase JSON objects (pure)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from lorainfra.attributes import ATTRIBUTES
from lorainfra.config.model import frozen_mapping
from lorainfra.providers.base import RemoteObject

_DURATION = re.compile(r"^(\d+(?:\.\d+)?)(s|m|h)$")
_UNITS = {"s": 1, "m": 60, "h": 3600}
_DURATION_ATTRS = frozenset(
    {
        "autoscaling_policy.scale_up_window",
        "autoscaling_policy.scale_down_window",
        "autoscaling_policy.scale_to_zero_window",
    }
)


def normalize_duration(value: Any) -> Any:
    """'10m' / '600s' / '600.0s' -> '600s' (the proto Duration JSON form); other values unchanged."""
    if isinstance(value, str):
        match = _DURATION.match(value.strip())
        if match:
            seconds = float(match.group(1)) * _UNITS[match.group(2)]
            text = f"{seconds:.9f}".rstrip("0").rstrip(".")
            return f"{text}s"
    return value


def deployment_id_of(name: str) -> str:
    return name.rsplit("/", 1)[-1]


def to_wire(kind: str, attributes: Mapping[str, Any], *, account: str, only: tuple[str, ...] | None = None) -> dict[str, Any]:
    """Build the request body for ``attributes`` (all of them, or ``only`` those named)."""
    body: dict[str, Any] = {}
    for spec in ATTRIBUTES[kind]:
        if spec.name not in attributes or (only is not None and spec.name not in only):
            continue
        value = attributes[spec.name]
        if kind == "lora" and spec.name == "deployment":
            if not value:
                continue
            value = value if "/" in str(value) else f"accounts/{account}/deployments/{value}"
        if kind == "lora" and spec.name == "serverless" and not value:
            continue
        if spec.name in _DURATION_ATTRS:
            value = normalize_duration(value)
        if isinstance(value, tuple):
            value = list(value)
        elif isinstance(value, Mapping):
            value = dict(value)
        target = body
        for part in spec.wire[:-1]:
            target = target.setdefault(part, {})
        target[spec.wire[-1]] = value
    return body


def _dig(obj: Mapping[str, Any], path: tuple[str, ...]) -> tuple[bool, Any]:
    current: Any = obj
    for part in path:
        if not isinstance(current, Mapping) or part not in current:
            return False, None
        current = current[part]
    return True, current


def from_wire(kind: str, obj: Mapping[str, Any], *, account: str) -> RemoteObject:
    """Parse a Deployment / DeployedModel JSON object; missing fields take their documented defaults."""
    attributes: dict[str, Any] = {}
    for spec in ATTRIBUTES[kind]:
        present, value = _dig(obj, spec.wire)
        if not present or value is None:
            if spec.default is not None:
                attributes[spec.name] = spec.default
            continue
        if kind == "lora" and spec.name == "deployment":
            prefix = f"accounts/{account}/deployments/"
            value = value[len(prefix):] if isinstance(value, str) and value.startswith(prefix) else value
        if spec.name in _DURATION_ATTRS:
            value = normalize_duration(value)
        if isinstance(value, list):
            value = tuple(value)
        if spec.name in ("min_replica_count", "max_replica_count", "accelerator_count", "max_context_length"):
            try:
                value = int(value)
            except (TypeError, ValueError):
                pass
        attributes[spec.name] = value
    status = obj.get("status") or {}
    message = ""
    if isinstance(status, Mapping):
        code = status.get("code") or ""
        if code and code != "OK":
            message = f"{code}: {status.get('message', '')}".strip()
    return RemoteObject(
        kind=kind,
        name=str(obj.get("name", "")),
        state=str(obj.get("state", "") or ""),
        attributes=frozen_mapping(attributes),
        status_message=message,
        create_time=str(obj.get("createTime", "") or ""),
        update_time=str(obj.get("updateTime", "") or ""),
    )
