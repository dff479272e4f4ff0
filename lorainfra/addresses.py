"""Addresses: the names of resources in plans, state and CLI flags (``deployment.NAME``, ``lora.NAME``)."""

from __future__ import annotations

import re
from collections.abc import Collection
from dataclasses import dataclass

ID_RE = re.compile(r"^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$")


@dataclass(frozen=True, order=True)
class Address:
    """A resource address: its kind and its name in the config."""

    kind: str
    name: str

    def __str__(self) -> str:
        return f"{self.kind}.{self.name}"

    @classmethod
    def parse(cls, text: str, kinds: Collection[str] = ()) -> Address:
        """KIND.NAME; with ``kinds`` given, KIND must be one of them (``kinds.registry.parse_address``)."""
        kind, sep, name = text.partition(".")
        if not sep or not kind or not name or (kinds and kind not in kinds):
            expected = f" with KIND one of {', '.join(kinds)}" if kinds else ""
            raise ValueError(f"invalid address {text!r}: expected KIND.NAME{expected}")
        return cls(kind, name)


def valid_id(text: str) -> bool:
    """Fireworks resource ID rule: 1-63 of a-z, 0-9, '-', not starting or ending in '-'."""
    return bool(ID_RE.match(text))
