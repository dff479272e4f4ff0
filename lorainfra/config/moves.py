"""``moved:`` and ``removed:`` blocks: renames and forgets that touch the state only, never a live object.

``moved: [{from: lora.faq-bot, to: lora.faq}]`` carries the state entry of ``from`` over to ``to``;
``removed: [{from: lora.x}]`` forgets ``lora.x`` without unloading it. Either may sit in any config
file. The rules (pure): both addresses name a known kind, ``from`` is no longer declared, ``to`` is
declared and of the same kind, each address is moved or removed once, and a move may not change the
ID the server knows an object by (a deployment's name is its ID).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from lorainfra.addresses import Address
from lorainfra.config.checks import fleet_items
from lorainfra.config.decl import Decl
from lorainfra.config.model import Move
from lorainfra.config.yamlsource import Document
from lorainfra.errors import Diagnostic, Span
from lorainfra.kinds.registry import kind_of, parse_address

SECTIONS = ("moved", "removed")


def _address(doc: Document, path: tuple[Any, ...], value: object, out: list[Diagnostic]) -> Address | None:
    if not isinstance(value, str):
        return None  # the schema reported it
    try:
        return parse_address(value)
    except ValueError as exc:
        out.append(Diagnostic(doc.span(path), str(exc), "write the address as KIND.NAME, e.g. lora.faq-bot (or lora.NAME[KEY] for one item of a fleet)"))
        return None


def collect_moves(
    docs: Iterable[Document], declared: Mapping[Address, Decl], complete: bool
) -> tuple[tuple[Move, ...], list[Diagnostic]]:
    """Every moved:/removed: entry of ``docs`` (file order) and the problems with them."""
    moves: list[Move] = []
    out: list[Diagnostic] = []
    seen: dict[Address, Span] = {}
    for doc in docs:
        if not isinstance(doc.data, dict):
            continue
        for section in SECTIONS:
            entries = doc.data.get(section)
            if not isinstance(entries, list):
                continue
            for i, entry in enumerate(entries):
                if not isinstance(entry, dict):
                    continue
                span = doc.span((section, i))
                source = _address(doc, (section, i, "from"), entry.get("from"), out)
                to = _address(doc, (section, i, "to"), entry.get("to"), out) if section == "moved" else None
                if source is None or (section == "moved" and to is None):
                    continue
                problem = _problem(source, to, declared, complete)
                if source in seen:
                    problem = (f"{source} is moved or removed twice (first at {seen[source]})", "keep one entry")
                if problem[0]:
                    out.append(Diagnostic(span, problem[0], problem[1]))
                    continue
                seen[source] = span
                moves.append(Move(source, to, span))
    return tuple(moves), out


def _problem(source: Address, to: Address | None, declared: Mapping[Address, Decl], complete: bool) -> tuple[str, str]:
    if source in declared:
        what = f"moved to {to}" if to else "removed"
        return (f"{source} is still declared at {declared[source].key_span}, so it cannot be {what}",
                f"delete its declaration, or remove this {'moved' if to else 'removed'} entry")
    if to is None:
        return "", ""
    if to.kind != source.kind:
        return f"cannot move {source} to {to}: a {source.kind} cannot become a {to.kind}", "move within one kind"
    if complete and to not in declared:
        items = [str(a) for a in fleet_items(to, declared)]
        if items:
            return (f"moved to {to}, which is a fleet: a state entry moves to one of its items",
                    f"write to: {items[0]} (items: {', '.join(items)})")
        return f"moved to {to}, which is not declared in this folder", f"declare {to}, or fix the address"
    return kind_of(source.kind).rename_problem(source.name, to.name)
