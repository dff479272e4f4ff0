"""Durations: parsing config durations ("30s", "10m", "1h30m", 2.5) and rendering the wire form ("600s")."""

from __future__ import annotations

import math
import re

# Kept identical to "$defs.duration.pattern" in schemas/config.schema.json (a test checks it).
DURATION_PATTERN = r"^([0-9]+(\.[0-9]+)?(ms|s|m|h|d))+$"
_DURATION_RE = re.compile(DURATION_PATTERN)
_PART_RE = re.compile(r"([0-9]+(?:\.[0-9]+)?)(ms|s|m|h|d)")
_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}


def _shown(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def parse_duration(value: object) -> float:
    """Seconds for a duration: a number of seconds (int or float >= 0) or a string like "1h30m".

    Raises ValueError with a message fit for a user when ``value`` is not a duration.
    """
    if isinstance(value, bool):
        raise ValueError(f"expected a duration like 30s, 10m or 1h, got {_shown(value)}")
    if isinstance(value, int | float):
        seconds = float(value)
    elif isinstance(value, str):
        text = value.strip()
        if not _DURATION_RE.match(text):
            raise ValueError(f"{_shown(value)} is not a duration; write it like 30s, 10m, 1h or 1h30m")
        seconds = sum(float(number) * _UNITS[unit] for number, unit in _PART_RE.findall(text))
    else:
        raise ValueError(f"expected a duration like 30s, 10m or 1h, got {type(value).__name__}")
    if math.isnan(seconds) or math.isinf(seconds) or seconds < 0:
        raise ValueError(f"{_shown(value)} is not a duration: it must be a finite number of seconds >= 0")
    return seconds


def wire_duration(seconds: float) -> str:
    """The protobuf Duration JSON form used on the wire: 600 -> "600s", 0.5 -> "0.5s"."""
    text = f"{seconds:.9f}".rstrip("0").rstrip(".")
    return f"{text}s"


def describe(seconds: float) -> str:
    """A short human form for messages: 3600 -> "1h", 90 -> "1m30s", 0.5 -> "0.5s"."""
    if seconds >= 60 and float(seconds).is_integer():
        whole = int(seconds)
        hours, rest = divmod(whole, 3600)
        minutes, secs = divmod(rest, 60)
        parts = [f"{hours}h" if hours else "", f"{minutes}m" if minutes else "", f"{secs}s" if secs else ""]
        return "".join(parts)
    return wire_duration(seconds)


def schema_rejects(value: object) -> bool:
    """True when the JSON Schema's duration rule already reports ``value`` (wrong type, bad syntax, < 0)."""
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        return True
    if isinstance(value, str):
        return not _DURATION_RE.match(value)
    return value < 0
