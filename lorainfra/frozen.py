"""Frozen values: a read-only, key-sorted mapping (core; used by every layer)."""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Any


def frozen_mapping(values: Mapping[str, Any] | None = None) -> Mapping[str, Any]:
    """A read-only mapping (sorted by key, so iteration order is deterministic)."""
    return MappingProxyType(dict(sorted((values or {}).items())))
