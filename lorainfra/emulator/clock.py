"""Emulated clock (real time plus a persisted offset), RFC 3339 timestamps and durations."""

from __future__ import annotations

import re
from datetime import UTC, datetime

from lorainfra.emulator.errors import invalid

_DURATION_PART = re.compile(r"(\d+(?:\.\d+)?)(ms|h|m|s)")
_DURATION_FULL = re.compile(r"^(?:\d+(?:\.\d+)?(?:ms|h|m|s))+$")
_UNIT_SECONDS = {"h": 3600.0, "m": 60.0, "s": 1.0, "ms": 0.001}


def rfc3339(ts: float) -> str:
    """Format epoch seconds as RFC 3339 UTC with a 'Z' suffix (0, 3 or 6 fractional digits)."""
    dt = datetime.fromtimestamp(ts, tz=UTC)
    base = dt.strftime("%Y-%m-%dT%H:%M:%S")
    us = dt.microsecond
    if us == 0:
        return base + "Z"
    if us % 1000 == 0:
        return f"{base}.{us // 1000:03d}Z"
    return f"{base}.{us:06d}Z"


def parse_rfc3339(text: str) -> float:
    value = text.strip()
    if value.endswith(("Z", "z")):
        value = value[:-1] + "+00:00"
    try:
        return datetime.fromisoformat(value).timestamp()
    except ValueError as exc:
        raise invalid(f"invalid timestamp {text!r}") from exc


def parse_duration(value: object, *, field: str) -> float:
    """Accept '30s', '10m', '1h', '600s', '1h30m', '0.5s' (and bare numbers as seconds)."""
    if isinstance(value, bool):
        raise invalid(f"{field}: invalid duration {value!r}", field=field)
    if isinstance(value, int | float):
        return float(value)
    if not isinstance(value, str) or not _DURATION_FULL.match(value.strip()):
        raise invalid(f"{field}: invalid duration {value!r} (expected e.g. '30s', '10m', '1h')", field=field)
    return sum(float(n) * _UNIT_SECONDS[u] for n, u in _DURATION_PART.findall(value.strip()))


def format_duration(seconds: float) -> str:
    """Emit the protobuf JSON form '<n>s'."""
    if float(seconds).is_integer():
        return f"{int(seconds)}s"
    return f"{seconds:.9f}".rstrip("0") + "s"
