"""YAML source: safe, bounded YAML parsing that keeps the file:line:col of every mapping key and value.

Only the standard JSON-like tags are accepted (null, bool, int, float, str, map, seq; timestamps stay
strings; ``<<`` merge keys are honoured). Anything else (``!!python/object``, ``!custom``...) is a
diagnostic, never constructed. Duplicate keys, alias bombs, deep nesting, binary and non-UTF-8 input
are diagnostics too; nothing in here lets an exception escape on bad input.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import yaml
from yaml.composer import Composer
from yaml.constructor import SafeConstructor
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode
from yaml.resolver import Resolver

from lorainfra.errors import Diagnostic, Span

MAX_DEPTH = 64
MAX_NODES = 100_000

YamlPath = tuple[str | int, ...]

_T = "tag:yaml.org,2002:"
_NULL, _BOOL, _INT, _FLOAT = _T + "null", _T + "bool", _T + "int", _T + "float"
_STR, _TIMESTAMP, _MAP, _SEQ, _MERGE = _T + "str", _T + "timestamp", _T + "map", _T + "seq", _T + "merge"
_SCALAR_TAGS = frozenset({_NULL, _BOOL, _INT, _FLOAT, _STR, _TIMESTAMP})
_DROP = object()  # a value that could not be read; its key is left out (a diagnostic says why)


@dataclass
class Document:
    """One parsed YAML file: plain data plus the span of every mapping key and every value."""

    file: str
    data: Any
    value_spans: dict[YamlPath, Span] = field(default_factory=dict)
    key_spans: dict[YamlPath, Span] = field(default_factory=dict)

    def span(self, path: YamlPath) -> Span:
        """Where the value at ``path`` is written (or its nearest enclosing node)."""
        for cut in range(len(path), -1, -1):
            sub = path[:cut]
            if sub in self.value_spans:
                return self.value_spans[sub]
            if sub in self.key_spans:
                return self.key_spans[sub]
        return Span(self.file, 1, 1)

    def key_span(self, path: YamlPath) -> Span:
        """Where the key naming ``path`` is written (falls back to the value, then the parent)."""
        return self.key_spans.get(path) or self.span(path)


class _Limit(Exception):
    """A resource limit was hit while reading; aborts the file with one diagnostic."""

    def __init__(self, message: str, mark: Any, hint: str) -> None:
        super().__init__(message)
        self.message = message
        self.mark = mark
        self.hint = hint


def show_tag(tag: str) -> str:
    """'tag:yaml.org,2002:python/object:x' -> '!!python/object:x'."""
    return "!!" + tag[len(_T) :] if tag.startswith(_T) else tag


# libyaml's event parser when PyYAML was built with it (about 20x faster), else the pure-Python one;
# composing stays in Python (below) so that the limits apply while nodes are built.
def _parser_class() -> Any:
    try:
        from yaml._yaml import CParser
    except ImportError:  # pragma: no cover - PyYAML built without libyaml
        return yaml.SafeLoader
    return CParser


_Parser: Any = _parser_class()


class _Composer(_Parser, Composer, SafeConstructor, Resolver):
    """Composes nodes from parser events, with depth, node-count and alias-expansion limits."""

    def __init__(self, text: str | bytes, max_depth: int, max_nodes: int) -> None:
        _Parser.__init__(self, text)
        Composer.__init__(self)
        SafeConstructor.__init__(self)
        Resolver.__init__(self)
        self.max_depth = max_depth
        self.max_nodes = max_nodes
        self.depth = 0
        self.total = 0  # nodes composed + nodes an alias would expand to
        self.open_anchors: list[str] = []
        self.sizes: dict[int, int] = {}
        self.alias_marks: dict[tuple[int, object], Any] = {}
        self.scalar_tags: dict[tuple[str, Any], str] = {}

    def resolve(self, kind: Any, value: Any, implicit: Any) -> Any:
        """The implicit tag of a scalar, remembered per (text, implicit): a pure function of them here (no
        path resolvers), and a config repeats its scalars (keys, base models, booleans) thousands of times."""
        if kind is not ScalarNode or self.yaml_path_resolvers:
            return Resolver.resolve(self, kind, value, implicit)
        key = (value, implicit)
        tag = self.scalar_tags.get(key)
        if tag is None:
            tag = self.scalar_tags[key] = Resolver.resolve(self, kind, value, implicit)
        return tag

    def _size(self, node: Node) -> int:
        key = id(node)
        if key not in self.sizes:
            total = 1
            if isinstance(node, SequenceNode):
                total += sum(self._size(child) for child in node.value)
            elif isinstance(node, MappingNode):
                total += sum(self._size(k) + self._size(v) for k, v in node.value)
            self.sizes[key] = total
        return self.sizes[key]

    def _count(self, amount: int, mark: Any) -> None:
        self.total += amount
        if self.total > self.max_nodes:
            raise _Limit(
                f"too many YAML aliases/nodes: this file expands to more than {self.max_nodes} nodes",
                mark,
                "a config file this large is almost certainly an alias bomb ('billion laughs') or a "
                "generated file; remove the repeated aliases or split the file",
            )

    def compose_node(self, parent: Node | None, index: Any) -> Node | None:
        event: Any
        if self.check_event(yaml.AliasEvent):
            event = self.peek_event()
            if event.anchor in self.open_anchors:
                raise _Limit(
                    f"recursive YAML alias *{event.anchor} refers to a node that contains it",
                    event.start_mark,
                    "an alias may only refer to a complete node defined before it",
                )
            node = super().compose_node(parent, index)
            if node is None:  # pragma: no cover - PyYAML always returns a node here
                return None
            if parent is not None:
                self.alias_marks[(id(parent), id(index) if isinstance(index, Node) else index)] = (
                    event.start_mark
                )
            self._count(self._size(node), event.start_mark)
            return node
        event = self.peek_event()
        if self.depth >= self.max_depth:
            raise _Limit(
                f"YAML nesting is deeper than {self.max_depth} levels",
                event.start_mark,
                "a lorainfra config needs only a few levels; flatten this structure",
            )
        self._count(1, event.start_mark)
        anchor = getattr(event, "anchor", None)
        if anchor is None and type(event) is yaml.ScalarEvent and not self.yaml_path_resolvers:
            # the common node, composed here as Composer.compose_scalar_node does, without its layers of calls
            scalar: Any = self.get_event()
            tag = scalar.tag
            if tag is None or tag == "!":
                tag = self.resolve(ScalarNode, scalar.value, scalar.implicit)
            return ScalarNode(tag, scalar.value, scalar.start_mark, scalar.end_mark, style=scalar.style)
        self.depth += 1
        if anchor is not None:
            self.open_anchors.append(anchor)
        try:
            return super().compose_node(parent, index)
        finally:
            self.depth -= 1
            if anchor is not None:
                self.open_anchors.pop()


class _Builder:
    """Turns composed nodes into plain data, recording spans and collecting diagnostics."""

    def __init__(self, file: str, composer: _Composer) -> None:
        self.file = file
        self.composer = composer
        self.doc = Document(file, None)
        self.diagnostics: list[Diagnostic] = []
        self.count = 0

    def span(self, mark: Any) -> Span:
        return Span(self.file, mark.line + 1, mark.column + 1)

    def error(self, mark: Any, message: str, hint: str) -> None:
        self.diagnostics.append(Diagnostic(self.span(mark), message, hint))

    def build(self, node: Node, path: YamlPath, depth: int, mark: Any) -> Any:
        self.count += 1
        if depth > self.composer.max_depth or self.count > self.composer.max_nodes:
            what = "nested too deeply" if depth > self.composer.max_depth else "too many YAML aliases/nodes"
            raise _Limit(f"{what} (limits: depth {MAX_DEPTH}, {MAX_NODES} nodes)", mark,
                         "simplify the anchors and aliases in this file")
        self.doc.value_spans[path] = self.span(mark)
        if isinstance(node, ScalarNode):
            return self.scalar(node, mark)
        if isinstance(node, SequenceNode):
            if node.tag != _SEQ:
                return self.bad_tag(node.tag, mark)
            items = []
            for index, child in enumerate(node.value):
                child_mark = self.composer.alias_marks.get((id(node), index), child.start_mark)
                value = self.build(child, (*path, index), depth + 1, child_mark)
                if value is not _DROP:
                    items.append(value)
            return items
        if isinstance(node, MappingNode):
            if node.tag != _MAP:
                return self.bad_tag(node.tag, mark)
            return self.mapping(node, path, depth)
        return self.bad_tag(str(getattr(node, "tag", "?")), mark)  # pragma: no cover - no other node kinds

    def scalar(self, node: ScalarNode, mark: Any) -> Any:
        tag = node.tag
        if tag in (_STR, _TIMESTAMP):
            return node.value
        if tag == _NULL:
            return None
        try:
            if tag == _BOOL:
                return self.composer.construct_yaml_bool(node)
            if tag == _INT:
                return self.composer.construct_yaml_int(node)
            if tag == _FLOAT:
                return self.composer.construct_yaml_float(node)
        except (ValueError, TypeError, KeyError, IndexError) as exc:
            shown = node.value if len(node.value) <= 40 else node.value[:37] + "..."
            self.error(mark, f"{shown!r} is not a valid {show_tag(tag)} value ({str(exc)[:80]})",
                       "fix the value or quote it to make it a string")
            return _DROP
        return self.bad_tag(tag, mark)

    def bad_tag(self, tag: str, mark: Any) -> Any:
        shown = show_tag(tag)
        if shown.startswith("!!python/"):
            message = f"unsafe YAML tag {shown} is not allowed"
        else:
            message = f"unsupported YAML tag {shown}"
        self.error(mark, message, "lorainfra reads plain YAML only (strings, numbers, booleans, lists, "
                   "mappings); remove the tag")
        return _DROP

    def entries(self, node: MappingNode, depth: int) -> list[tuple[Node, Node, bool]]:
        """The mapping's (key, value, explicit) pairs, with ``<<`` merge keys flattened after the explicit ones."""
        explicit: list[tuple[Node, Node, bool]] = []
        merged: list[tuple[Node, Node, bool]] = []
        for key, value in node.value:
            if key.tag != _MERGE:
                explicit.append((key, value, True))
                continue
            if depth > self.composer.max_depth:
                raise _Limit("YAML merge keys are nested too deeply", key.start_mark,
                             "simplify the '<<' merges in this file")
            sources = value.value if isinstance(value, SequenceNode) else [value]
            for source in sources:
                if isinstance(source, MappingNode) and source.tag == _MAP:
                    merged.extend((k, v, False) for k, v, _ in self.entries(source, depth + 1))
                else:
                    self.error(key.start_mark, "a '<<' merge key needs a mapping or a list of mappings",
                               "write '<<: *anchor' where the anchor names a mapping")
        return explicit + merged

    def merge_under(self, mine: dict[str, Any], node: MappingNode, path: YamlPath, depth: int) -> None:
        """Deep ``<<`` merge: the keys of ``node`` that ``mine`` (written explicitly) lacks, at any depth.

        YAML's merge is shallow; a resource writing its own ``lifecycle:`` would silently drop the
        anchor's ``lifecycle.prevent_destroy``. Explicit keys still win; spans stay where the values were written.
        """
        before = (dict(self.doc.value_spans), dict(self.doc.key_spans))
        value = self.build(node, path, depth, node.start_mark)
        if not isinstance(value, dict):  # pragma: no cover - a mapping node builds a dict or is dropped
            return
        _fill(mine, value)
        for table, old in zip((self.doc.value_spans, self.doc.key_spans), before, strict=True):
            for key in [k for k in table if k not in old]:
                if not _kept(mine, old, key, len(path)):
                    del table[key]
            table.update(old)

    def mapping(self, node: MappingNode, path: YamlPath, depth: int) -> Any:
        result: dict[str, Any] = {}
        first: dict[str, Span] = {}
        for key_node, value_node, explicit in self.entries(node, depth):
            if not isinstance(key_node, ScalarNode):
                self.error(key_node.start_mark, "mapping keys must be plain strings, not lists or mappings",
                           "write the key as a plain word such as 'name:'")
                continue
            if key_node.tag not in _SCALAR_TAGS:
                self.bad_tag(key_node.tag, key_node.start_mark)
                continue
            key = str(key_node.value)
            key_span = self.span(key_node.start_mark)
            if key in first:
                if explicit:
                    self.diagnostics.append(Diagnostic(
                        key_span, f"duplicate key {key!r} in this mapping; first at {first[key]}",
                        "YAML keeps only one of them silently; remove or rename one"))
                elif isinstance(result.get(key), dict) and isinstance(value_node, MappingNode):
                    self.merge_under(result[key], value_node, (*path, key), depth + 1)
                continue
            first[key] = key_span
            child = (*path, key)
            self.doc.key_spans[child] = key_span
            value_mark = self.composer.alias_marks.get((id(node), id(key_node)), value_node.start_mark)
            value = self.build(value_node, child, depth + 1, value_mark)
            if value is not _DROP:
                result[key] = value
        return result


def _fill(mine: dict[str, Any], merged: dict[str, Any]) -> None:
    """Add to ``mine`` what ``merged`` has and it lacks, recursing where both hold a mapping."""
    for key, value in merged.items():
        if key not in mine:
            mine[key] = value
        elif isinstance(mine[key], dict) and isinstance(value, dict):
            _fill(mine[key], value)


def _kept(root: dict[str, Any], old: dict[YamlPath, Span], key: YamlPath, base: int) -> bool:
    """Whether the span of ``key`` (new from a deep merge under path[:base]) names a value that was merged in:
    the nearest enclosing path that was already written explicitly holds a mapping (merged into)."""
    node: Any = root
    for index in range(base, len(key)):
        part = key[index]
        if not isinstance(node, dict) or part not in node:
            return False
        node = node[part]
        prefix = key[: index + 1]
        if prefix != key and prefix in old and not isinstance(node, dict):
            return False
    return True


def _line_col(text: str, offset: int) -> tuple[int, int]:
    line = text.count("\n", 0, offset) + 1
    return line, offset - (text.rfind("\n", 0, offset) + 1) + 1


def _byte_line_col(data: bytes, offset: int) -> tuple[int, int]:
    start = data.rfind(b"\n", 0, offset) + 1
    return data.count(b"\n", 0, offset) + 1, len(data[start:offset].decode("utf-8", "replace")) + 1


def decode(data: bytes, file: str) -> tuple[str | None, list[Diagnostic]]:
    """UTF-8 text of a config file, or a diagnostic saying where it stops being text."""
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        return None, [Diagnostic(Span(file, 1, 1), f"{file} is UTF-16 encoded", "save the file as UTF-8")]
    nul = data.find(b"\x00")
    if nul >= 0:
        line = data.count(b"\n", 0, nul) + 1
        col = nul - (data.rfind(b"\n", 0, nul) + 1) + 1
        return None, [Diagnostic(Span(file, line, col), f"{file} looks binary (NUL byte at byte offset {nul})",
                                 "config files are UTF-8 YAML text; move other files out of the config folder")]
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        col = exc.start - (data.rfind(b"\n", 0, exc.start) + 1) + 1
        bad = data[exc.start : exc.start + 1].hex()
        return None, [Diagnostic(Span(file, line, col),
                                 f"{file} is not valid UTF-8: byte 0x{bad} at byte offset {exc.start}",
                                 "save the file as UTF-8")]
    return text.removeprefix("\ufeff"), []


def _syntax_hint(problem: str, line_text: str) -> str:
    if "\t" in line_text:
        return "YAML does not allow tabs for indentation; indent with spaces"
    if "nesting" in problem:
        return "a lorainfra config needs only a few levels of nesting; flatten this structure"
    if "undefined alias" in problem:
        return "define the anchor (&name) before using the alias (*name)"
    if "another document" in problem:
        return "a config file holds one YAML document; remove the '---' separator or split the file"
    return "check the indentation, colons and quotes on this line and the one before"


def parse_yaml(text: str, file: str, *, max_depth: int = MAX_DEPTH,
               max_nodes: int = MAX_NODES) -> tuple[Document | None, list[Diagnostic]]:
    """Parse one YAML document. Returns (None, diagnostics) when the file cannot be read at all."""
    composer: _Composer | None = None
    try:
        data = text.encode("utf-8")
    except UnicodeEncodeError as exc:
        line, col = _line_col(text, exc.start)
        return None, [Diagnostic(Span(file, line, col), f"invalid character {text[exc.start]!r} in YAML text",
                                 "save the file as UTF-8 text")]
    lines = text.split("\n")
    try:
        composer = _Composer(data if _Parser is not yaml.SafeLoader else text, max_depth, max_nodes)
        root = Composer.get_single_node(composer)
        builder = _Builder(file, composer)
        if root is not None:
            builder.doc.data = builder.build(root, (), 0, root.start_mark)
            if builder.doc.data is _DROP:
                builder.doc.data = None
        return builder.doc, builder.diagnostics
    except _Limit as exc:
        return None, [Diagnostic(Span(file, exc.mark.line + 1, exc.mark.column + 1), exc.message, exc.hint)]
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        span = Span(file, mark.line + 1, mark.column + 1) if mark is not None else Span(file, 1, 1)
        problem = exc.problem or exc.context or "invalid YAML"
        message = f"invalid YAML: {problem}"
        if exc.context and exc.problem and exc.context_mark is not None:
            message += f" ({exc.context} at line {exc.context_mark.line + 1})"
        line_text = lines[mark.line] if mark is not None and 0 <= mark.line < len(lines) else ""
        return None, [Diagnostic(span, message, _syntax_hint(problem, line_text))]
    except yaml.reader.ReaderError as exc:
        line, col = _line_col(text, exc.position) if _Parser is yaml.SafeLoader else _byte_line_col(data, exc.position)
        return None, [Diagnostic(Span(file, line, col),
                                 f"invalid character {chr(exc.character)!r} (#x{exc.character:04x}) in YAML text",
                                 "remove control characters from the file")]
    except yaml.YAMLError as exc:  # pragma: no cover - every PyYAML error above is marked
        return None, [Diagnostic(Span(file, 1, 1), f"invalid YAML: {exc}", _syntax_hint(str(exc), ""))]
    finally:
        if composer is not None:
            composer.dispose()
