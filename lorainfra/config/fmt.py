"""Fmt: the canonical layout of config files (key order, indentation, quoting), comments kept.

Round-trips each file through ruamel.yaml (never a hand-written printer):

- keys of every block in the order of the config schema (``x-`` keys first at the top level, since
  they hold the anchors that later blocks refer to; keys the schema does not know keep their order,
  after the known ones); resources keep the order they were written in;
- 2-space indentation, list items indented under their key;
- a quoted string loses its quotes when YAML reads it back as the same string without them, and is
  double-quoted otherwise; plain scalars are left as written, so a file means what it meant.

Pure: text in, text out; the CLI (lorainfra.cli.fmt_cmd) reads and writes the files.
"""

from __future__ import annotations

import functools
import io
import os
from collections.abc import Mapping
from dataclasses import dataclass
from itertools import pairwise
from pathlib import Path
from typing import Any

import yaml
from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq, merge_attrib
from ruamel.yaml.compat import ordereddict
from ruamel.yaml.error import CommentMark, MarkedYAMLError, YAMLError
from ruamel.yaml.scalarstring import (
    DoubleQuotedScalarString,
    FoldedScalarString,
    LiteralScalarString,
    SingleQuotedScalarString,
)
from ruamel.yaml.tokens import CommentToken

from lorainfra.config.loader import EXTENSION_PREFIX, config_files
from lorainfra.config.schema import load_schema
from lorainfra.config.yamlsource import parse_yaml
from lorainfra.errors import Diagnostic, Span

INDENT = 2
_WIDTH = 4096  # never re-wrap a long string


@dataclass(frozen=True)
class Formatted:
    """One config file: its text as found and in canonical layout."""

    name: str
    original: str
    formatted: str

    @property
    def changed(self) -> bool:
        return self.original != self.formatted


class FormatError(Exception):
    """A file that cannot be formatted (it does not parse); holds the diagnostic."""

    def __init__(self, diagnostic: Diagnostic) -> None:
        super().__init__(diagnostic.render())
        self.diagnostic = diagnostic


def _yaml() -> YAML:
    rt = YAML(typ="rt")
    rt.preserve_quotes = True
    rt.indent(mapping=INDENT, sequence=INDENT * 2, offset=INDENT)
    rt.width = _WIDTH
    return rt


# --- key order, from the schema ---------------------------------------------------------------------

def _resolve(node: Mapping[str, Any], defs: Mapping[str, Any]) -> Mapping[str, Any]:
    ref = node.get("$ref")
    if isinstance(ref, str) and ref.startswith("#/$defs/"):
        return _resolve(defs[ref[len("#/$defs/"):]], defs)
    return node


def _child(schema: Mapping[str, Any] | None, key: Any, defs: Mapping[str, Any]) -> Mapping[str, Any] | None:
    """The schema of the value at ``key`` of a mapping described by ``schema`` (None when unknown)."""
    if schema is None:
        return None
    props = schema.get("properties", {})
    if isinstance(key, str) and key in props:
        return _resolve(props[key], defs)
    extra = schema.get("additionalProperties")
    if isinstance(extra, dict):
        return _resolve(extra, defs)
    return None


def _key_order(schema: Mapping[str, Any] | None, keys: list[Any], top: bool) -> list[Any]:
    known = list(schema.get("properties", {})) if schema is not None else []
    rank = {name: i for i, name in enumerate(known)}
    extensions = [k for k in keys if top and isinstance(k, str) and k.startswith(EXTENSION_PREFIX)]
    ordered = sorted((k for k in keys if k in rank), key=lambda k: rank[k])
    rest = [k for k in keys if k not in rank and k not in extensions]
    return extensions + ordered + rest


# --- comments: a comment line belongs to the key that follows it --------------------------------------

def _tail_holder(node: Any, key: Any) -> tuple[Any, Any]:
    """(container, key) whose comment slot holds the comment written after the entry ``node[key]``."""
    value = node[key]
    if isinstance(value, CommentedMap) and len(value) and value.fa.flow_style() is False:
        return _tail_holder(value, _own_keys(value)[-1])
    if isinstance(value, CommentedSeq) and len(value) and value.fa.flow_style() is False:
        return _tail_holder(value, len(value) - 1)
    return node, key


def _slot(container: Any) -> int:
    """Where a container keeps the comment written after one of its entries (ruamel's layout)."""
    return 0 if isinstance(container, CommentedSeq) else 2


def _take_leading_lines(container: Any, key: Any) -> list[str]:
    """Split the comment after ``container[key]``: keep the end-of-line part, return the lines after it."""
    slot = container.ca.items.get(key)
    index = _slot(container)
    if not slot or len(slot) <= index or not isinstance(slot[index], CommentToken):
        return []
    text = slot[index].value
    head, sep, rest = text.partition("\n")
    if not sep or not rest:
        return []
    if head.strip():
        slot[index].value = head + "\n"
    else:
        slot[index] = None
    return rest.split("\n")[:-1] if rest.endswith("\n") else rest.split("\n")


def _put_before(mapping: CommentedMap, key: Any, lines: list[str], column: int) -> None:
    slot = mapping.ca.items.setdefault(key, [None, None, None, None])
    if slot[1] is None:
        slot[1] = []
    for line in lines:
        stripped = line.strip()
        slot[1].append(CommentToken(stripped + "\n" if stripped else "\n", CommentMark(column if stripped else 0)))


def _reorder(mapping: CommentedMap, order: list[Any], column: int) -> None:
    merge = getattr(mapping, merge_attrib, None)
    if merge is not None and len(merge) and hasattr(merge, "merge_pos"):
        merge.merge_pos = 0  # `<<: *anchor` first: what the block's own keys then override
    current = _own_keys(mapping)
    if order == current:
        return
    block = mapping.fa.flow_style() is not True
    leads: dict[Any, list[str]] = {}
    if block:
        for before, after in pairwise(current):
            lines = _take_leading_lines(*_tail_holder(mapping, before))
            if lines:
                leads[after] = lines
        # the comment after the last entry belongs to what follows this mapping
        trailer = _take_leading_lines(*_tail_holder(mapping, current[-1]))
    for key in order:
        mapping.move_to_end(key)
    if block:
        for key, lines in leads.items():
            _put_before(mapping, key, lines, column)
        if trailer:
            holder, slot_key = _tail_holder(mapping, order[-1])
            slot = holder.ca.items.setdefault(slot_key, [None, None, None, None])
            index = _slot(holder)
            text = "\n".join(trailer) + "\n"
            if isinstance(slot[index], CommentToken):
                slot[index].value += text
            else:
                slot[index] = CommentToken("\n" + text, CommentMark(0))


# --- quoting -------------------------------------------------------------------------------------------

def _plain_reads_as_same(text: str) -> bool:
    """Whether ``text`` written without quotes reads back (as lorainfra reads YAML) as this string."""
    dumped = yaml.safe_dump(text, width=_WIDTH, allow_unicode=True)
    return not dumped.startswith(("'", '"', "|", ">"))


@functools.lru_cache(maxsize=4096)  # pure; a config repeats its plain strings (model names, regions)
def _emitted_quoted(text: str) -> bool:
    """Whether ruamel.yaml itself would quote this plain string on output (it cannot be written plain)."""
    out = io.StringIO()
    emitter = YAML(typ="rt")
    emitter.width = _WIDTH
    emitter.dump(text, out)
    return out.getvalue().startswith(("'", '"'))


def _quote(value: Any) -> Any:
    if isinstance(value, LiteralScalarString | FoldedScalarString):
        return value
    if isinstance(value, SingleQuotedScalarString | DoubleQuotedScalarString):
        text = str(value)
        return text if _plain_reads_as_same(text) else DoubleQuotedScalarString(text)
    if type(value) is str and _emitted_quoted(value):
        # a plain scalar the emitter must quote anyway: choose the canonical (double) style now, or the
        # next run would turn the emitter's single quotes into double ones (not idempotent)
        return DoubleQuotedScalarString(value)
    return value


def _keyed_quote(key: Any) -> Any:
    if isinstance(key, SingleQuotedScalarString | DoubleQuotedScalarString) or type(key) is str:
        return _quote(key)
    return key


def _rename_key(mapping: CommentedMap, old: Any, new: Any) -> None:
    """Replace a key by an equal one of another style, keeping position, value and comments."""
    keys = _own_keys(mapping)
    value = mapping[old]
    comments = mapping.ca.items.pop(old, None)
    del mapping[old]
    mapping[new] = value
    if comments is not None:
        mapping.ca.items[new] = comments
    for key in keys[keys.index(old) + 1:]:
        mapping.move_to_end(key)


# --- the walk ------------------------------------------------------------------------------------------

def _own_keys(mapping: CommentedMap) -> list[Any]:
    """The keys written in this mapping (not those a ``<<`` merge key brings in)."""
    return [key for key, _ in mapping.non_merged_items()]


def _walk(node: Any, schema: Mapping[str, Any] | None, defs: Mapping[str, Any], depth: int,
          seen: set[int]) -> None:
    if isinstance(node, CommentedMap | CommentedSeq):
        if id(node) in seen:  # an alias: the anchored node was laid out where it is written
            return
        seen.add(id(node))
    if isinstance(node, CommentedMap):
        for key in _own_keys(node):
            styled = _keyed_quote(key)
            if type(styled) is not type(key):
                _rename_key(node, key, styled)
        for key in _own_keys(node):
            value = _quote(node[key])
            if value is not node[key]:  # CommentedMap.__setitem__ would keep the old quote style
                ordereddict.__setitem__(node, key, value)
            _walk(value, _child(schema, key, defs), defs, depth + 1, seen)
        if key_order := _key_order(schema, _own_keys(node), top=depth == 0):
            _reorder(node, key_order, INDENT * depth)
    elif isinstance(node, CommentedSeq):
        for i, item in enumerate(node):
            value = _quote(item)
            if value is not item:
                list.__setitem__(node, i, value)
            _walk(node[i], (schema or {}).get("items") if schema else None, defs, depth + 1, seen)


def _diagnostic(name: str, exc: Exception) -> Diagnostic:
    mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
    problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
    span = Span(name, mark.line + 1, mark.column + 1) if mark is not None else Span(name, 1, 1)
    return Diagnostic(span, f"cannot format {name}: {problem}",
                      "fix the YAML first (`lorainfra validate` shows every problem)")


def format_text(text: str, name: str = "<text>") -> str:
    """``text`` in canonical layout; FormatError (with file:line:col) when it is not readable YAML."""
    _, problems = parse_yaml(text, name)  # what lorainfra cannot read (bombs, tags, duplicates) stays as it is
    if problems:
        first = min(problems)
        raise FormatError(Diagnostic(first.span, f"cannot format {name}: {first.message}",
                                     "fix it first (`lorainfra validate` shows every problem)"))
    rt = _yaml()
    try:
        data = rt.load(text)
    except (MarkedYAMLError, YAMLError, ValueError) as exc:
        raise FormatError(_diagnostic(name, exc)) from exc
    if data is None:
        return text
    schema = load_schema()
    defs = schema.get("$defs", {})
    _walk(data, schema, defs, 0, set())
    out = io.StringIO()
    try:
        rt.dump(data, out)
    except (YAMLError, ValueError) as exc:  # pragma: no cover - a loaded document always dumps
        raise FormatError(_diagnostic(name, exc)) from exc
    return out.getvalue()


def format_folder(root: str | os.PathLike[str]) -> tuple[list[Formatted], list[Diagnostic]]:
    """Every config file of ``root`` (as lorainfra reads them) formatted, plus the files that could not be."""
    folder = Path(root)
    done: list[Formatted] = []
    problems: list[Diagnostic] = []
    for name in config_files(folder):
        try:
            original = (folder / name).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            problems.append(Diagnostic(Span(name), f"cannot read {name}: {exc}", "check the file's permissions and encoding"))
            continue
        try:
            done.append(Formatted(name, original, format_text(original, name)))
        except FormatError as exc:
            problems.append(exc.diagnostic)
    return done, problems
