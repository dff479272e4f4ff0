"""Addresses: the names of resources in plans, state and CLI flags (``deployment.NAME``, ``lora.NAME``,
and ``lora.NAME[KEY]`` for one item of a fleet: a LoRA declared once for several deployments)."""

from __future__ import annotations

import re
from collections.abc import Collection, Iterable
from dataclasses import dataclass

ID_RE = re.compile(r"^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$")
# NAME, or NAME[KEY] / NAME["KEY"] (Terraform's for_each spelling); neither part holds brackets, quotes or dots
_NAME_RE = re.compile(r'^(?P<base>[^\[\]".]+)(?:\[(?P<quote>"?)(?P<key>[^\[\]".]+)(?P=quote)\])?$')


def item_name(base: str, key: str) -> str:
    """The name of fleet item ``key`` of ``base``: ``base[key]``."""
    return f"{base}[{key}]"


def split_name(name: str) -> tuple[str, str | None]:
    """(base, key) of ``base[key]``; (name, None) for a name without a key."""
    if name.endswith("]") and "[" in name:
        base, _, key = name[:-1].partition("[")
        return base, key
    return name, None


@dataclass(frozen=True, order=True)
class Address:
    """A resource address: its kind and its name in the config (``NAME`` or ``NAME[KEY]``)."""

    kind: str
    name: str

    def __str__(self) -> str:
        return f"{self.kind}.{self.name}"

    @property
    def base(self) -> str:
        """The name as declared in the config (``support-bot`` for ``lora.support-bot[a]``)."""
        return split_name(self.name)[0]

    @property
    def key(self) -> str | None:
        """The fleet item key (``a`` for ``lora.support-bot[a]``), None for a resource outside a fleet."""
        return split_name(self.name)[1]

    @property
    def group(self) -> Address:
        """The address of the whole fleet this item belongs to (itself without a key)."""
        return Address(self.kind, self.base)

    @classmethod
    def parse(cls, text: str, kinds: Collection[str] = ()) -> Address:
        """KIND.NAME or KIND.NAME[KEY] (``["KEY"]`` is read as ``[KEY]``); with ``kinds`` given, KIND must be one
        of them (``kinds.registry.parse_address``)."""
        kind, sep, name = text.partition(".")
        match = _NAME_RE.match(name)
        if not sep or not kind or not match or (kinds and kind not in kinds):
            expected = f" with KIND one of {', '.join(kinds)}" if kinds else ""
            raise ValueError(f"invalid address {text!r}: expected KIND.NAME or KIND.NAME[KEY]{expected}")
        key = match.group("key")
        return cls(kind, item_name(match.group("base"), key) if key is not None else name)


def with_fleet_items(given: Iterable[str], known: Iterable[str]) -> frozenset[str]:
    """``given`` addresses where the address of a whole fleet (``lora.NAME``, which nothing else is called)
    stands for every item of it in ``known`` (``lora.NAME[a]``, ``lora.NAME[b]``...)."""
    known = set(known)
    out: set[str] = set()
    for text in given:
        items = {k for k in known if k.startswith(f"{text}[") and k.endswith("]")} if text not in known else set()
        out |= items or {text}
    return frozenset(out)


def yaml_quoted(address: str) -> str:
    """``address`` as a YAML scalar that reads back the same inside a flow collection (``{to: ...}``), where
    the brackets of ``NAME[KEY]`` would start a list: quoted when it has them."""
    return f"'{address}'" if "[" in address else address


def valid_id(text: str) -> bool:
    """Fireworks resource ID rule: 1-63 of a-z, 0-9, '-', not starting or ending in '-'."""
    return bool(ID_RE.match(text))
