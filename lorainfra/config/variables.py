"""Variables: ``${var.NAME}`` in config values, typed, with defaults, per-environment values and ``--var``.

A value that is exactly ``${var.NAME}`` becomes the variable's typed value (an integer stays an integer);
an expression inside a longer string is written into it as text. ``$${`` is a literal ``${``.
Precedence: ``--var`` > ``environments.ENV.vars`` > ``variables.NAME.default``. Every error points at the
line holding the expression (or the value that is wrong).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from lorainfra.config.environments import VAR_TYPES, Selection
from lorainfra.config.hints import did_you_mean, join_hint, short
from lorainfra.config.yamlsource import Document, YamlPath
from lorainfra.errors import Diagnostic, Span

_EXPR = re.compile(r"\$\$\{|\$\{([^}]*)\}")
_REF = re.compile(r"\s*var\.([A-Za-z_][A-Za-z0-9_-]*)\s*")
SKIP = ("variables", "environments")  # sections of lorainfra.yaml that are not substituted as config values


@dataclass(frozen=True)
class Source:
    """Where a variable's value comes from: the raw value and the span that wrote it."""

    value: Any
    span: Span
    origin: str  # "default", "environments.ENV.vars" or "--var"


def _typed(raw: str, kind: str) -> Any:
    """A --var string as the variable's type; ValueError if it does not read as one."""
    if kind == "integer":
        return int(raw.strip())
    if kind == "number":
        number = float(raw.strip())
        return int(number) if number.is_integer() and "." not in raw else number
    if kind == "boolean":
        low = raw.strip().lower()
        if low in ("true", "false"):
            return low == "true"
        raise ValueError(raw)
    return raw


def _matches(value: Any, kind: str) -> bool:
    if kind == "integer":
        return isinstance(value, int) and not isinstance(value, bool)
    if kind == "number":
        return isinstance(value, int | float) and not isinstance(value, bool)
    if kind == "boolean":
        return isinstance(value, bool)
    return isinstance(value, str)


def _text(value: Any) -> str:
    return str(value).lower() if isinstance(value, bool) else str(value)


class Resolver:
    """Resolves ``${var.NAME}`` against the declared variables for one selection; collects diagnostics."""

    def __init__(self, main: Document, selection: Selection) -> None:
        self.main = main
        self.diagnostics: list[Diagnostic] = []
        data = main.data if isinstance(main.data, dict) else {}
        declared = data.get("variables")
        self.declared: dict[str, Any] = declared if isinstance(declared, dict) else {}
        self.types: dict[str, str] = {}
        self.sources: dict[str, Source] = {}
        self.values: dict[str, Any] = {}
        self.resolving: list[str] = []
        self.failed: set[str] = set()  # variables already reported: not reported again at each use
        for name, body in self.declared.items():
            spec = body if isinstance(body, dict) else {}
            kind = spec.get("type")
            if kind not in VAR_TYPES:
                default = spec.get("default")
                kind = next((k for k in ("boolean", "integer", "number", "string") if _matches(default, k)), "string")
            self.types[name] = str(kind)
            if "default" in spec:
                self.sources[name] = Source(spec["default"], main.span(("variables", name, "default")), "default")
        envs = data.get("environments")
        body = envs.get(selection.env) if isinstance(envs, dict) and selection.env is not None else None
        values = body.get("vars") if isinstance(body, dict) else None
        for name, value in (values if isinstance(values, dict) else {}).items():
            path: YamlPath = ("environments", str(selection.env), "vars", name)
            if name not in self.declared:
                self._undeclared(name, main.key_span(path))
                continue
            self.sources[name] = Source(value, main.span(path), f"environments.{selection.env}.vars")
        for name, raw in selection.vars.items():
            span = Span("--var")
            if name not in self.declared:
                self._undeclared(name, span)
                continue
            try:
                self.sources[name] = Source(_typed(raw, self.types[name]), span, "--var")
            except ValueError:
                self.diagnostics.append(Diagnostic(span, f"--var {name}={short(raw)}: variable {name} is "
                                                   f"{self.types[name]}, and {short(raw)} is not",
                                                   f"pass a value of type {self.types[name]}"))

    def _undeclared(self, name: str, span: Span) -> None:
        self.diagnostics.append(Diagnostic(span, f"variable {name} is not declared",
                                           join_hint(did_you_mean(name, list(self.declared)),
                                                     f"declare it under variables: in {self.main.file}")))

    def value(self, name: str, span: Span) -> tuple[bool, Any]:
        """(found, value) of variable ``name`` used at ``span``; a diagnostic explains a miss."""
        if name in self.values:
            return True, self.values[name]
        if name in self.failed:
            return False, None
        if name not in self.declared:
            self.diagnostics.append(Diagnostic(span, f"undefined variable {name} in ${{var.{name}}}",
                                               join_hint(did_you_mean(name, list(self.declared)),
                                                         f"declare it under variables: in {self.main.file}")))
            return False, None
        if name in self.resolving:
            loop = self.resolving[self.resolving.index(name):]
            self.failed.update(loop)
            chain = " -> ".join([*loop, name])
            self.diagnostics.append(Diagnostic(span, f"variables refer to each other in a cycle: {chain}",
                                               "give one of them a plain value"))
            return False, None
        source = self.sources.get(name)
        if source is None:
            self.diagnostics.append(Diagnostic(span, f"variable {name} has no value",
                                               f"give it a default under variables.{name}, a value in "
                                               f"environments.ENV.vars, or pass --var {name}=VALUE"))
            return False, None
        self.resolving.append(name)
        try:
            ok, value = self.substitute(source.value, source.span)
        finally:
            self.resolving.pop()
        if not ok:
            self.failed.add(name)
            return False, None
        kind = self.types[name]
        if not _matches(value, kind):
            self.failed.add(name)
            self.diagnostics.append(Diagnostic(source.span, f"variable {name} is {kind}, but its value "
                                               f"({source.origin}) is {short(_text(value))}",
                                               f"give {name} a value of type {kind}"))
            return False, None
        self.values[name] = value
        return True, value

    def check_all(self) -> None:
        """Resolve every variable that has a value, used or not: a wrong value is an error in any case."""
        for name, source in self.sources.items():
            self.value(name, source.span)

    def substitute(self, value: Any, span: Span) -> tuple[bool, Any]:
        """``value`` with its expressions replaced; (False, None) if one could not be resolved."""
        if not isinstance(value, str) or "${" not in value:
            return True, value
        whole = _EXPR.fullmatch(value)
        if whole is not None and whole.group(1) is not None:
            return self._one(whole.group(1), span)
        ok = True

        def part(match: re.Match[str]) -> str:
            nonlocal ok
            if match.group(1) is None:
                return "${"
            found, resolved = self._one(match.group(1), span)
            ok = ok and found
            return _text(resolved) if found else ""

        text = _EXPR.sub(part, value)
        return (True, text) if ok else (False, None)

    def _one(self, expr: str, span: Span) -> tuple[bool, Any]:
        ref = _REF.fullmatch(expr)
        if ref is None:
            self.diagnostics.append(Diagnostic(span, f"unsupported expression ${{{short(expr).strip(chr(39))}}}",
                                               "only ${var.NAME} is supported; write $${ for a literal ${"))
            return False, None
        return self.value(ref.group(1), span)


def substitute_document(doc: Document, resolver: Resolver, skip: tuple[str, ...] = ()) -> None:
    """Replace every ``${var.NAME}`` in ``doc``'s values in place (top-level keys in ``skip`` left alone)."""

    def walk(node: Any, path: YamlPath) -> Any:
        if isinstance(node, dict):
            return {key: walk(child, (*path, key)) if (path or key not in skip) else child
                    for key, child in node.items()}
        if isinstance(node, list):
            return [walk(child, (*path, index)) for index, child in enumerate(node)]
        ok, value = resolver.substitute(node, doc.span(path))
        return value if ok else node

    doc.data = walk(doc.data, ())


def values_used(resolver: Resolver) -> Mapping[str, Any]:
    """The variables that were resolved, by name (for the config digest)."""
    return dict(sorted(resolver.values.items()))
