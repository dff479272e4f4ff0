"""Hints: small helpers that word config diagnostics ("did you mean", paths, short values)."""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable, Mapping

from lorainfra.config.yamlsource import YamlPath


def close_match(word: str, choices: Iterable[str]) -> str | None:
    """The choice closest to ``word`` (case-insensitive), if any is close enough."""
    options = sorted(set(choices))
    by_folded: dict[str, str] = {}
    for option in options:
        by_folded.setdefault(option.lower(), option)
    matches = difflib.get_close_matches(word.lower(), list(by_folded), n=1, cutoff=0.6)
    return by_folded[matches[0]] if matches else None


def did_you_mean(word: str, choices: Iterable[str]) -> str:
    """'did you mean 'x'?' or '' when nothing is close."""
    match = close_match(word, choices)
    return f"did you mean {match!r}?" if match else ""


def join_hint(*parts: str) -> str:
    return " ".join(part for part in parts if part)


def short(value: object, limit: int = 60) -> str:
    """repr() of a value, cut to ``limit`` characters."""
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def dotted(path: YamlPath) -> str:
    """('deployments', 'x', 'placement', 'regions', 0) -> 'deployments.x.placement.regions[0]'."""
    out = ""
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += ("." if out else "") + part
    return out or "the top level"


def owner(path: YamlPath, kinds_by_section: Mapping[str, str]) -> str:
    """Human name of the thing at ``path``: "deployment 'x'", "lora 'y'", "provider", ...

    ``kinds_by_section`` maps a resource section ("deployments") to its kind's name ("deployment").
    """
    if len(path) >= 2 and isinstance(path[0], str) and path[0] in kinds_by_section and isinstance(path[1], str):
        kind = kinds_by_section[path[0]]
        rest = dotted(path[2:]) if len(path) > 2 else ""
        return f"{kind} {path[1]!r}" + (f" ({rest})" if rest else "")
    return dotted(path) if path else "the top level"


def suggest_id(name: str) -> str:
    """A valid Fireworks ID close to ``name`` (lowercase, invalid characters to '-', trimmed to 63)."""
    text = re.sub(r"[^a-z0-9-]+", "-", name.lower())
    text = re.sub(r"-{2,}", "-", text).strip("-")[:63].strip("-")
    return text or "my-deployment"


def id_hint(name: str) -> str:
    example = suggest_id(name)
    return (
        "IDs are 1-63 characters of lowercase letters, digits and '-', not starting or ending "
        f"with '-'; e.g. {example!r}"
    )
