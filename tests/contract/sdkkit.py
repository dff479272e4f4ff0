"""Helpers for contract tests: strict SDK-side parsing of emulator JSON and state polling."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pydantic
from fireworks import Fireworks

from lorainfra.emulator import Emulator

API_KEY = "test-key"
ACCOUNT = "acme"
FAST = {"ready_after": 0.2, "deployed_after": 0.1, "delete_after": 0.5}


@dataclass
class Served:
    """A running emulator: its base URL and the Emulator object (for advance() and fault bookkeeping)."""

    url: str
    emulator: Emulator

    def sdk(self, **kwargs: Any) -> Fireworks:
        params: dict[str, Any] = {"base_url": self.url, "api_key": API_KEY, "account_id": ACCOUNT, **kwargs}
        return Fireworks(**params)


# --- strict parsing -------------------------------------------------------------------------------------


def _extras(obj: Any, path: str = "$") -> list[str]:
    found: list[str] = []
    if isinstance(obj, pydantic.BaseModel):
        found += [f"{path}.{k}" for k in (obj.model_extra or {})]
        for name in type(obj).model_fields:
            found += _extras(getattr(obj, name), f"{path}.{name}")
    elif isinstance(obj, list):
        for i, item in enumerate(obj):
            found += _extras(item, f"{path}[{i}]")
    return found


def _keys(obj: Any) -> Any:
    if isinstance(obj, dict):
        return {k: _keys(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_keys(v) for v in obj]
    return None


def strict(raw_response: Any) -> Any:
    """Parse a with_raw_response result strictly: pydantic validation, no unknown fields, same keys as the JSON."""
    raw = raw_response.http_response.json()
    parsed = raw_response.parse()
    model_type = type(parsed)
    if isinstance(parsed, pydantic.BaseModel):
        validated = model_type.model_validate(raw)  # the SDK itself only constructs (no validation)
        assert not _extras(validated), f"fields unknown to the SDK: {_extras(validated)}"
        dumped = validated.model_dump(mode="json", by_alias=True, exclude_unset=True)
        assert _keys(dumped) == _keys(raw), f"SDK view {dumped} differs from wire {raw}"
    return parsed


def strict_items(model_type: type[pydantic.BaseModel], items: list[dict[str, Any]]) -> list[Any]:
    out = []
    for item in items:
        validated = model_type.model_validate(item)
        assert not _extras(validated), f"fields unknown to the SDK: {_extras(validated)}"
        dumped = validated.model_dump(mode="json", by_alias=True, exclude_unset=True)
        assert _keys(dumped) == _keys(item)
        out.append(validated)
    return out


def wait_for(fetch: Callable[[], Any], predicate: Callable[[Any], bool], timeout: float = 5.0) -> Any:
    """Poll until predicate(fetch()) holds (state transitions observed the way a client would)."""
    deadline = time.monotonic() + timeout
    while True:
        value = fetch()
        if predicate(value):
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting; last value {value!r}")
        time.sleep(0.05)
