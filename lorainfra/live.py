"""Live objects: what refresh saw in the account (core values; the kinds build them, the diff reads them)."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Hashable, Mapping
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

from lorainfra.frozen import frozen_mapping


def digest_of(value: Any) -> str:
    """A short stable digest of a JSON-able value (sorted keys)."""
    blob = json.dumps(value, sort_keys=True, separators=(",", ":"), default=str).encode()
    return hashlib.sha256(blob).hexdigest()[:16]


@dataclass(frozen=True)
class RemoteObject:
    """A live object as lorainfra sees it: managed attributes only (never secrets), plus its state.

    ``gone``, ``failed`` and ``key`` are what the object's kind read from its state (see
    ``lorainfra.kinds``): build live objects with ``Kind.observe``, which fills them in.
    """

    kind: str
    name: str  # full resource name
    state: str = ""
    attributes: Mapping[str, Any] = field(default_factory=frozen_mapping)
    status_message: str = ""
    create_time: str = ""
    update_time: str = ""
    gone: bool = False  # being deleted / unloaded, or deleted: no longer what a config entry describes
    failed: bool = False  # will not become ready by waiting
    key: Hashable = None  # what identifies it when the server chose its name (None: its name does)

    @cached_property
    def digest(self) -> str:
        """Digest of what a plan depends on: managed attributes and state."""
        return digest_of({"a": dict(self.attributes), "s": self.state, "n": self.name})


@dataclass(frozen=True)
class Observed:
    """Everything refresh saw in the account, keyed by resource name."""

    objects: Mapping[str, RemoteObject] = field(default_factory=frozen_mapping)
    requests: int = 0

    def get(self, name: str) -> RemoteObject | None:
        return self.objects.get(name)

    @cached_property
    def _by_key(self) -> dict[tuple[str, Hashable], RemoteObject]:
        index: dict[tuple[str, Hashable], RemoteObject] = {}
        for name in sorted(self.objects):  # first by name wins: deterministic
            obj = self.objects[name]
            if obj.key is not None and not obj.gone:
                index.setdefault((obj.kind, obj.key), obj)
        return index

    def find(self, kind: str, key: Hashable) -> RemoteObject | None:
        """The live (not gone) object of ``kind`` with this identity key, if any. O(1)."""
        return self._by_key.get((kind, key))


@dataclass(frozen=True)
class ModelInfo:
    """What a plan needs to know about a model (base or LoRA) before loading it."""

    name: str
    kind: str = ""
    state: str = ""
    base_model: str = ""  # peftDetails.baseModel for LoRA addons
    supports_lora: bool = False
    supports_serverless: bool = False
