"""The local backend's change log: state versions stored as their changes on the previous one.

During a locked session (an apply) the local backend appends one record per write to ``<state>.log``
instead of rewriting the whole document: a 10,700-resource document is 5.6 MB, a group commit's
changes a few kB (issue 16). The log is folded back into the document (compaction) when the lock is
released, when it grows past the document's size, and by the next writer that finds it.

Format: text lines, each ``<sha256 of payload> <payload>\\n`` where the payload is compact JSON. The first
line is a header naming the document the records apply to (lineage, serial and the sha256 of its exact
text), so a log left over from before a document was replaced is recognised and ignored. Each following
line is a record taking serial ``base`` to ``serial``: the document's top-level fields, and per section
(every ``Entries`` field of ``State``: resources, pending, ...) the entries set (their JSON) and removed.
A line is committed once it is complete, newline included, and fsync'd: an incomplete or garbled *last*
line is a write that never finished and is ignored; a bad line followed by others is damage.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, fields, replace
from typing import Any

from lorainfra.errors import StateError
from lorainfra.state.model import Entries, State

LOG_FORMAT = 1


@dataclass(frozen=True)
class Header:
    """What a log applies to: the document of this lineage and serial, with this exact text."""

    lineage: str
    serial: int
    document_sha256: str


@dataclass(frozen=True)
class Replayed:
    """The state a document and its log describe."""

    state: State
    base: Header | None  # the document the records were applied to (None: no record applied)
    records: int  # records applied
    meta: tuple[str, str, str]  # (written_at, who, operation) of the last record applied


def text_sha256(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _line(payload: dict[str, Any]) -> str:
    body = json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return f"{text_sha256(body)} {body}\n"


def header_line(lineage: str, serial: int, document_text: str) -> str:
    return _line({"log": LOG_FORMAT, "lineage": lineage, "serial": serial, "document_sha256": text_sha256(document_text)})


def _sections(state: State) -> list[str]:
    """The names of State's entry sections (generic: any Entries field is logged the same way)."""
    return [f.name for f in fields(state) if isinstance(getattr(state, f.name), Entries)]


def _top(state: State, sections: list[str]) -> dict[str, Any]:
    """The document's top-level fields other than the sections (cheap: the sections are left empty)."""
    empty: dict[str, Any] = {name: Entries() for name in sections}
    bare = replace(state, **empty).to_json()
    return {k: v for k, v in bare.items() if k not in sections}


def record_line(old: State, new: State, *, written_at: str, who: str, operation: str) -> str:
    """The record taking ``old`` to ``new``; O(entries) identity checks, O(changes) encoding."""
    sections = _sections(new)
    changed: dict[str, dict[str, Any]] = {}
    removed: dict[str, list[str]] = {}
    for name in sections:
        before, after = getattr(old, name), getattr(new, name)
        if before is after:
            continue
        put, gone = after.changes_since(before)
        if put:
            changed[name] = {k: v.to_json() for k, v in put.items()}
        if gone:
            removed[name] = gone
    return _line({
        "base": old.serial, "serial": new.serial, "lineage": new.lineage, "top": _top(new, sections),
        "set": changed, "removed": removed, "written_at": written_at, "who": who, "operation": operation,
    })


def _parse(line: str) -> dict[str, Any] | None:
    """The payload of a complete line, or None when it is not one this module wrote whole."""
    digest, _, body = line.partition(" ")
    if len(digest) != 64 or text_sha256(body) != digest:
        return None
    try:
        payload = json.loads(body)
    except ValueError:
        return None
    return payload if isinstance(payload, dict) else None


def replay(document_text: str, document: State, log_text: str, *, where: str) -> Replayed:
    """``document`` (parsed from ``document_text``) with the log's records applied.

    A log whose header does not name this document (left over from before it was replaced) is ignored, as
    is an unfinished last line. StateError when a record in the middle is unreadable or out of sequence.
    """
    none = Replayed(document, None, 0, ("", "", ""))
    lines = log_text.split("\n")
    complete = lines[:-1]  # the part after the last newline is an unfinished write (or "")
    if not complete:
        return none
    head = _parse(complete[0])
    if head is None or head.get("log") != LOG_FORMAT:
        if len(complete) > 1:
            raise StateError(f"{where}: the first line is not a change-log header this lorainfra reads")
        return none
    base = Header(str(head.get("lineage")), int(head.get("serial", -1)), str(head.get("document_sha256")))
    if (base.lineage, base.serial) != (document.lineage, document.serial) or \
            base.document_sha256 != text_sha256(document_text):
        return none  # written on top of another version of the document: stale
    data = json.loads(document_text)
    sections = _sections(document)
    serial, count, meta = document.serial, 0, ("", "", "")
    for number, line in enumerate(complete[1:], start=2):
        rec = _parse(line)
        if rec is None:
            if number == len(complete):
                break  # the last line was cut short by a crash (or a failed disk): never committed
            raise StateError(f"{where}: line {number} is damaged (its checksum does not match)")
        if rec.get("base") != serial or rec.get("lineage") != document.lineage:
            raise StateError(f"{where}: line {number} goes on serial {rec.get('base')}, expected {serial}")
        top = rec.get("top") or {}
        for key in [k for k in data if k not in sections and k not in top]:
            del data[key]
        data.update(top)
        for name in sections:
            section = data.setdefault(name, {})
            section.update((rec.get("set") or {}).get(name) or {})
            for key in (rec.get("removed") or {}).get(name) or ():
                section.pop(key, None)
        serial = int(rec["serial"])
        count += 1
        meta = (str(rec.get("written_at", "")), str(rec.get("who", "")), str(rec.get("operation", "")))
    if not count:
        return none
    state = State.from_json(data)
    if state.serial != serial:
        raise StateError(f"{where}: the records end at serial {serial}, the document says {state.serial}")
    return Replayed(state, base, count, meta)
