"""Addresses: the names of resources in plans, state and CLI flags (``deployment.NAME``, ``lora.NAME``)."""

from __future__ import annotations

import re
from dataclasses import dataclass

KINDS = ("deployment", "lora")
ID_RE = re.compile(r"^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$")


@dataclass(frozen=True, order=True)
class Address:
    """A resource address: its kind and its name in the config."""

    kind: str
    name: str

    def __str__(self) -> str:
        return f"{self.kind}.{self.name}"

    @classmethod
    def parse(cls, text: str) -> Address:
        kind, sep, name = text.partition(".")
        if not sep or kind not in KINDS or not name:
            raise ValueError(
                f"invalid address {text!r}: expected KIND.NAME with KIND one of {', '.join(KINDS)}"
            )
        return cls(kind, name)


def valid_id(text: str) -> bool:
    """Fireworks resource ID rule: 1-63 of a-z, 0-9, '-', not starting or ending in '-'."""
    return bool(ID_RE.match(text))
