"""Validate JSON: the result of ``lorainfra validate --json``, in the shape of ``terraform validate -json``.

``format_version``, ``valid``, ``error_count``, ``warning_count`` and ``diagnostics[]`` with
``severity``, ``summary``, ``detail``, ``address`` (when the problem belongs to a resource) and
``range {filename, start {line, column}, end {line, column}}`` (left out when no position is known,
as Terraform does). ``filename`` is the span's file: the folder as the user typed it plus the file
(``infra/prod/loras.yaml``), usable by a tool that runs lorainfra from the same directory. Pure: diagnostics in, a JSON-ready dict out.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from lorainfra.errors import Diagnostic

FORMAT_VERSION = "1.0"


def _position(line: int, col: int) -> dict[str, int]:
    return {"line": line, "column": max(col, 1)}


def _end(diagnostic: Diagnostic) -> dict[str, int]:
    """Where the problem ends: the diagnostic's end position when it records one, else its start."""
    span = diagnostic.span
    end = getattr(diagnostic, "end", None) or getattr(span, "end", None)
    if end is not None and getattr(end, "line", 0) > 0:
        return _position(end.line, getattr(end, "col", 0) or getattr(end, "column", 0))
    end_line = getattr(span, "end_line", 0) or 0
    if end_line > 0:
        return _position(end_line, getattr(span, "end_col", 0) or 0)
    return _position(span.line, span.col)


def diagnostic_json(diagnostic: Diagnostic) -> dict[str, Any]:
    out: dict[str, Any] = {
        "severity": str(getattr(diagnostic, "severity", "error") or "error"),
        "summary": diagnostic.message,
        "detail": diagnostic.hint,
    }
    address = getattr(diagnostic, "address", "")
    if address:
        out["address"] = str(address)
    span = diagnostic.span
    if span.line > 0:
        out["range"] = {"filename": span.file, "start": _position(span.line, span.col), "end": _end(diagnostic)}
    return out


def validate_json(diagnostics: Sequence[Diagnostic]) -> dict[str, Any]:
    """The whole report; ``valid`` is false when any diagnostic is an error (warnings alone keep it valid)."""
    items = [diagnostic_json(d) for d in sorted(diagnostics)]
    errors = sum(1 for item in items if item["severity"] == "error")
    warnings = sum(1 for item in items if item["severity"] == "warning")
    return {
        "format_version": FORMAT_VERSION,
        "valid": errors == 0,
        "error_count": errors,
        "warning_count": warnings,
        "diagnostics": items,
    }
