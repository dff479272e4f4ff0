"""Registry: every resource kind lorainfra manages, by name. A new kind is one line here."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from types import MappingProxyType

from lorainfra.addresses import Address
from lorainfra.config.model import Resource
from lorainfra.errors import Diagnostic
from lorainfra.kinds.base import Kind
from lorainfra.kinds.deployment import DEPLOYMENT
from lorainfra.kinds.lora import LORA
from lorainfra.kinds.model import MODEL

KINDS: Mapping[str, Kind] = MappingProxyType({kind.name: kind for kind in (DEPLOYMENT, MODEL, LORA)})
BY_SECTION: Mapping[str, Kind] = MappingProxyType({kind.section: kind for kind in KINDS.values()})


def kind_of(name: str) -> Kind:
    """The kind called ``name``; a KeyError names the known kinds (a state file from a newer lorainfra)."""
    try:
        return KINDS[name]
    except KeyError:
        raise KeyError(f"unknown resource kind {name!r}; known kinds: {', '.join(KINDS)}") from None


def parse_address(text: str) -> Address:
    """KIND.NAME with a known KIND; ValueError (fit for a user) otherwise."""
    return Address.parse(text, KINDS)


def bind(resources: Mapping[Address, Resource], account: str) -> Mapping[Address, Resource]:
    """Every resource with its references resolved in ``account`` (``Kind.bind``); the same order."""
    bound = {address: kind_of(r.kind).bind(r.attributes, resources, account) for address, r in resources.items()}
    if all(bound[a] is r.attributes for a, r in resources.items()):
        return resources
    return MappingProxyType({a: r if bound[a] is r.attributes else replace(r, attributes=bound[a])
                             for a, r in resources.items()})


def check_bound(resources: Mapping[Address, Resource]) -> list[Diagnostic]:
    """Each kind's rules across its bound resources (``Kind.check_bound``; at plan time, after ``bind``)."""
    out: list[Diagnostic] = []
    for kind in KINDS.values():
        out += kind.check_bound([r for r in resources.values() if r.kind == kind.name])
    return out
