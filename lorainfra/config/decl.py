"""Decl: one declared resource as read from YAML, with spans for every key under it (no rules)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from lorainfra.addresses import Address
from lorainfra.config.yamlsource import Document, YamlPath
from lorainfra.errors import Span


@dataclass
class Decl:
    """One declared resource: its kind, name, raw body, the document holding it and its section there."""

    kind: str
    name: str
    body: Any
    doc: Document
    section: str
    root: str = ""  # the config folder (absolute): where paths written in the body are relative to

    @property
    def address(self) -> Address:
        return Address(self.kind, self.name)

    @property
    def path(self) -> YamlPath:
        return (self.section, self.name)

    @property
    def key_span(self) -> Span:
        return self.doc.key_span(self.path)

    def span(self, *sub: str | int) -> Span:
        return self.doc.span((*self.path, *sub))

    def sub_key_span(self, *sub: str | int) -> Span:
        return self.doc.key_span((*self.path, *sub))

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
