"""Accelerator types of the deployment kind: the ones this version knows (the schema's ``examples``), and the warning for a new one."""

from __future__ import annotations

import re
from typing import Any

from lorainfra.config.decl import Decl
from lorainfra.config.hints import did_you_mean, join_hint, short
from lorainfra.errors import Diagnostic


def _accelerator_schema() -> dict[str, Any]:
    from lorainfra.config.schema import load_schema  # here: the schema module imports the kind registry

    node: dict[str, Any] = load_schema()["$defs"]["deployment"]["properties"]["accelerator"]["properties"]["type"]
    return node


def known_accelerator_types() -> tuple[str, ...]:
    """The accelerator types this version knows: the schema's ``examples`` (Fireworks' list as of this release)."""
    return tuple(_accelerator_schema()["examples"])


def accelerator_warnings(decl: Decl) -> list[Diagnostic]:
    """A warning for a well-formed accelerator type that this version does not know (a new GPU is never an error)."""
    value = decl.get("accelerator", "type")
    known = known_accelerator_types()
    if not isinstance(value, str) or value in known or not re.search(_accelerator_schema()["pattern"], value):
        return []  # absent, known, or malformed (the schema reports that as an error)
    return [Diagnostic(decl.span("accelerator", "type"),
                       f"deployments.{decl.name}.accelerator.type: {short(value)} is not known to this version of "
                       "lorainfra",
                       join_hint(did_you_mean(value, list(known)), "if it is a new Fireworks accelerator type, it is "
                                 f"sent as written; known types: {', '.join(known)}"), severity="warning")]
