"""Checks: the rules every declaration follows whatever its kind (name, lifecycle, depends_on, cycles),
and the entry points that run each kind's own rules (``lorainfra.kinds``).

Every check tolerates values of the wrong type (the JSON Schema already reported those) and returns
diagnostics instead of raising, so one run reports every problem.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import replace

from lorainfra.addresses import Address, split_name, valid_id
from lorainfra.config.decl import Decl
from lorainfra.config.hints import close_match, did_you_mean, id_hint, join_hint, short
from lorainfra.config.model import Limits
from lorainfra.errors import Diagnostic, Span
from lorainfra.graph import build_graph, cycle_diagnostics, has_cycle
from lorainfra.kinds.base import DeclContext
from lorainfra.kinds.registry import KINDS, kind_of, parse_address


def check_name(decl: Decl) -> list[Diagnostic]:
    if valid_id(decl.name):
        return []
    noun = kind_of(decl.kind).noun
    return [Diagnostic(decl.key_span, f"{short(decl.name, 100)} is not a valid {noun}", id_hint(decl.name))]


def check_lifecycle(decl: Decl) -> list[Diagnostic]:
    entries = decl.get("lifecycle", "ignore_changes")
    if not isinstance(entries, list):
        return []
    kind = kind_of(decl.kind)
    table = kind.ignore_paths()
    out = []
    for index, entry in enumerate(entries):
        if isinstance(entry, str) and entry not in table:
            out.append(Diagnostic(decl.span("lifecycle", "ignore_changes", index),
                                  f"lifecycle.ignore_changes: unknown attribute {short(entry)} for a {decl.kind}",
                                  join_hint(did_you_mean(entry, table), f"known: {', '.join(kind.yaml_paths())}")))
    return out


def context(declared: Mapping[Address, Decl], complete: bool, limits: Limits | None = None) -> DeclContext:
    """What the checks of one load share: every first declaration, whether every file was read, the limits."""
    return DeclContext(declared, complete, limits or Limits())


def check_declaration(decl: Decl, ctx: DeclContext) -> list[Diagnostic]:
    """Every rule about one declaration: its name, its kind's own rules, its lifecycle block."""
    out = check_name(decl)
    if isinstance(decl.body, dict):
        out += kind_of(decl.kind).check(decl, ctx) + check_lifecycle(decl)
    return [d.about(str(decl.address)) for d in out]


def fold_items(diagnostics: Iterable[Diagnostic]) -> list[Diagnostic]:
    """A problem in the shared part of a fleet is reported once, about the fleet (``lora.NAME``), not once
    per item (``lora.NAME[a]``, ``lora.NAME[b]``...)."""
    groups: dict[tuple[Span, str, str, str], list[Diagnostic]] = {}
    for d in diagnostics:
        groups.setdefault((d.span, d.message, d.hint, d.severity), []).append(d)
    out = []
    for same in groups.values():
        addresses = {d.address for d in same}
        kinds_bases = {(a.partition(".")[0], split_name(a.partition(".")[2])[0]) for a in addresses}
        if len(addresses) > 1 and len(kinds_bases) == 1:
            kind, base = kinds_bases.pop()
            out.append(replace(same[0], address=f"{kind}.{base}"))
        else:
            out += same
    return out


def implied_dependencies(decl: Decl, ctx: DeclContext) -> list[Address]:
    """What a declaration depends on through its attributes (a LoRA's deployment)."""
    return kind_of(decl.kind).implied_dependencies(decl, ctx)


def check_limits(ctx: DeclContext) -> list[Diagnostic]:
    """Each kind's rules across all its declarations (run only when every file was read)."""
    out: list[Diagnostic] = []
    for kind in KINDS.values():
        out += kind.check_all(ctx.of_kind(kind.name).values(), ctx)
    return out


def fleet_items(address: Address, known: Iterable[Address]) -> list[Address]:
    """The items of fleet ``address`` (``lora.NAME`` -> ``lora.NAME[a]``, ...) among ``known``, sorted."""
    if address.key is not None:
        return []
    return sorted(a for a in known if a.kind == address.kind and a.key is not None and a.base == address.name)


def explicit_dependencies(decl: Decl, known: Mapping[Address, Decl], complete: bool) -> tuple[list[Address], list[Diagnostic]]:
    """The addresses in ``depends_on`` that exist, and diagnostics for the others."""
    entries = decl.get("depends_on")
    if not isinstance(entries, list):
        return [], []
    found: list[Address] = []
    out = []
    for index, entry in enumerate(entries):
        if not isinstance(entry, str):
            continue
        span = decl.span("depends_on", index)
        try:
            address = parse_address(entry)
        except ValueError:
            kinds = " or ".join(KINDS)
            out.append(Diagnostic(span, f"depends_on: {short(entry)} is not an address",
                                  f"write KIND.NAME with KIND {kinds}, e.g. deployment.shared-base"))
            continue
        items = fleet_items(address, known)
        if address in known:
            found.append(address)
        elif items:  # a whole fleet: every item of it
            found += items
        elif complete:
            names = [a.name for a in known if a.kind == address.kind]
            guess = close_match(address.name, names)
            out.append(Diagnostic(span, f"depends_on: no {address.kind} {address.name!r} is declared",
                                  f"did you mean '{address.kind}.{guess}'?" if guess else
                                  f"declare {address} or remove it from depends_on"))
    return found, out


def cycles(dependencies: Mapping[Address, Iterable[Address]], spans: Mapping[Address, Span]) -> list[Diagnostic]:
    """One diagnostic per member of each dependency cycle, the ring read as "X -> Y: X depends on Y"."""
    if not has_cycle(dependencies):  # the common case, in linear time; networkx only to describe a cycle
        return []
    return cycle_diagnostics(build_graph(dependencies).reverse(copy=True), spans)
