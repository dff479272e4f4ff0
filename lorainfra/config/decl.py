"""Decl: one declared resource as read from YAML, with spans for every key under it (no rules)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

from lorainfra.addresses import Address, item_name
from lorainfra.config.yamlsource import Document, YamlPath
from lorainfra.errors import Span


@dataclass
class Decl:
    """One declared resource: its kind, name, raw body, the document holding it and its section there.

    An item of a fleet (``key`` set: one LoRA declared for several deployments) has the body of one item
    (``deployment: KEY`` in place of ``deployments: [...]``); ``moved`` says where a key of that body is
    written in the declaration (``deployment`` -> ``deployments[i]``), so errors point at the item.
    """

    kind: str
    name: str
    body: Any
    doc: Document
    section: str
    root: str = ""  # the config folder (absolute): where paths written in the body are relative to
    key: str | None = None  # the fleet item key (lora.NAME[KEY]); None outside a fleet
    moved: Mapping[str, YamlPath] = field(default_factory=dict)  # body key -> where it is written

    @cached_property
    def address(self) -> Address:  # asked tens of thousands of times by one load; kind, name and key never change
        return Address(self.kind, item_name(self.name, self.key) if self.key is not None else self.name)

    def _sub(self, sub: tuple[str | int, ...]) -> YamlPath:
        if sub and isinstance(sub[0], str) and sub[0] in self.moved:
            return (*self.path, *self.moved[sub[0]], *sub[1:])
        return (*self.path, *sub)

    @property
    def path(self) -> YamlPath:
        return (self.section, self.name)

    @property
    def key_span(self) -> Span:
        """Where the declaration is named: its key, or for a fleet item the item in the list."""
        if self.key is not None and self.moved:
            return self.doc.span(self._sub((next(iter(self.moved)),)))
        return self.doc.key_span(self.path)

    def span(self, *sub: str | int) -> Span:
        return self.doc.span(self._sub(sub))

    def sub_key_span(self, *sub: str | int) -> Span:
        return self.doc.key_span(self._sub(sub))

    def get(self, *sub: str) -> Any:
        node = self.body
        for part in sub:
            if not isinstance(node, dict):
                return None
            node = node.get(part)
        return node

    def has(self, *sub: str) -> bool:
        node = self.body
        for part in sub:
            if not isinstance(node, dict) or part not in node:
                return False
            node = node[part]
        return True
