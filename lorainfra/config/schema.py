"""Schema: the JSON Schema of a config file (schemas/config.schema.json) and its errors as spanned diagnostics."""

from __future__ import annotations

import functools
import json
from importlib import resources
from typing import TYPE_CHECKING, Any

from lorainfra.config.fastschema import Check, Unsupported, compile_schema
from lorainfra.config.hints import did_you_mean, dotted, join_hint, owner, short
from lorainfra.config.yamlsource import Document, YamlPath
from lorainfra.errors import Diagnostic
from lorainfra.kinds.registry import BY_SECTION

if TYPE_CHECKING:  # jsonschema (~0.08 s to import) only when a document has errors to explain
    import jsonschema
    from jsonschema.exceptions import ValidationError

SCHEMA_NAME = "config.schema.json"
_SECTIONS = {section: kind.name for section, kind in BY_SECTION.items()}

_TYPE_NAMES = {
    "object": "a mapping",
    "array": "a list",
    "string": "a string",
    "integer": "an integer",
    "number": "a number",
    "boolean": "true or false",
    "null": "empty",
}


@functools.lru_cache(maxsize=1)
def load_schema() -> dict[str, Any]:
    """The config JSON Schema, read from the package (lorainfra/schemas is a link to schemas/)."""
    text = (resources.files("lorainfra") / "schemas" / SCHEMA_NAME).read_text(encoding="utf-8")
    schema: dict[str, Any] = json.loads(text)
    return schema


def inline_refs(node: Any, defs: dict[str, Any]) -> Any:
    """The schema with every local ``#/$defs/X`` reference replaced by its definition.

    Validating 11,000 resources resolved two references each (~1 s); the config schema has no
    recursive definitions, so resolving them once at load time gives the same verdicts for free.
    Sibling keywords of a ``$ref`` keep applying alongside it (``allOf``), as in draft 2020-12.
    """
    if isinstance(node, list):
        return [inline_refs(item, defs) for item in node]
    if not isinstance(node, dict):
        return node
    out = {key: inline_refs(value, defs) for key, value in node.items() if key != "$ref"}
    ref = node.get("$ref")
    if isinstance(ref, str) and ref.startswith("#/$defs/") and ref[len("#/$defs/"):] in defs:
        target = inline_refs(defs[ref[len("#/$defs/"):]], defs)
        extra = {k: v for k, v in out.items() if k not in ("description", "title", "$comment")}
        if not extra:
            return {**target, **out}
        return {**out, "allOf": [*out.get("allOf", []), target]}
    if isinstance(ref, str):
        out["$ref"] = ref
    return out


# where the schema expects a number or a boolean it also takes a string that is exactly one ``${var.NAME}``
# (``"type": ["integer", "string"]`` with this pattern), so that editors accept a variable there
VARIABLE_PATTERN = r"^\$\{\s*var\.[A-Za-z_][A-Za-z0-9_-]*\s*\}$"


def substituted(node: Any) -> Any:
    """The schema for values after ``${var.NAME}`` substitution: the variable alternative that the file offers
    editors (type ``[T, "string"]`` with ``VARIABLE_PATTERN``) is dropped, so a substituted value is checked as
    a ``T`` (and a string left there is reported as "must be an integer")."""
    if isinstance(node, list):
        return [substituted(item) for item in node]
    if not isinstance(node, dict):
        return node
    out = {key: substituted(value) for key, value in node.items()}
    types = out.get("type")
    if out.get("pattern") == VARIABLE_PATTERN and isinstance(types, list) and "string" in types:
        del out["pattern"]
        rest = [t for t in types if t != "string"]
        out["type"] = rest[0] if len(rest) == 1 else rest
    return out


@functools.lru_cache(maxsize=1)
def _validator() -> jsonschema.Draft202012Validator:
    import jsonschema

    schema = load_schema()
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(substituted(inline_refs(schema, schema.get("$defs", {}))))


def type_name(value: object) -> str:
    if value is None:
        return "empty (null)"
    if isinstance(value, bool):
        return f"the boolean {str(value).lower()}"
    if isinstance(value, int | float):
        return f"the number {value}"
    if isinstance(value, str):
        return f"the string {short(value, 40)}"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "a mapping"
    return type(value).__name__  # pragma: no cover - YAML gives only the types above


def _expected(value: object) -> str:
    names = value if isinstance(value, list) else [value]
    return " or ".join(_TYPE_NAMES.get(str(name), str(name)) for name in names)


def _type_hint(expected: object, instance: object) -> str:
    names = expected if isinstance(expected, list) else [expected]
    if "string" in names and isinstance(instance, bool | int | float):
        return "put the value in quotes to make it a string (YAML reads yes/no/on/off as booleans)"
    if instance is None:
        return "give it a value, or remove the key"
    if "object" in names:
        return "write a mapping: indented 'key: value' lines under this key"
    if "array" in names:
        return "write a list: [a, b] or '- item' lines"
    if "boolean" in names:
        return "write true or false"
    if "integer" in names or "number" in names:
        return "write a plain number without quotes"
    return ""


def _diagnose(doc: Document, error: ValidationError) -> list[Diagnostic]:
    path: YamlPath = tuple(error.absolute_path)
    where = dotted(path)
    span = doc.span(path)
    kind = error.validator
    value = error.validator_value
    instance = error.instance
    schema = error.schema if isinstance(error.schema, dict) else {}
    hint = str(schema.get("x-hint", ""))
    if kind == "additionalProperties" and isinstance(instance, dict):
        allowed = sorted(schema.get("properties", {}))
        out = []
        for key in sorted(k for k in instance if k not in allowed):
            out.append(Diagnostic(
                doc.key_span((*path, key)),
                f"unknown key {key!r} in {owner(path, _SECTIONS)}",
                join_hint(did_you_mean(key, allowed), f"allowed keys: {', '.join(allowed)}"),
            ))
        return out
    if kind == "required" and isinstance(instance, dict) and isinstance(value, list):
        props = schema.get("properties", {})
        return [
            Diagnostic(
                doc.key_span(path),
                f"{owner(path, _SECTIONS)} is missing the required key {key!r}",
                join_hint(f"add {key}:", str(props.get(key, {}).get("description", ""))),
            )
            for key in value
            if key not in instance
        ]
    if kind == "type":
        message = f"{where} must be {_expected(value)}, not {type_name(instance)}"
        return [Diagnostic(span, message, _type_hint(value, instance) or hint)]
    if kind == "enum" and isinstance(value, list):
        choices = [str(choice) for choice in value]
        guess = did_you_mean(str(instance), choices) if isinstance(instance, str) else ""
        listing = f"expected one of: {', '.join(choices)}"
        return [Diagnostic(span, f"{where}: unknown value {short(instance)}", guess or listing)]
    if kind == "pattern":
        noun = str(schema.get("x-name", "value"))
        guess = did_you_mean(instance, [str(e) for e in schema.get("examples", [])]) if isinstance(instance, str) else ""
        return [Diagnostic(span, f"{where}: {short(instance)} is not a valid {noun}", join_hint(guess, hint))]
    if kind in ("minimum", "exclusiveMinimum"):
        return [Diagnostic(span, f"{where} must be at least {value}, not {instance}", hint or f"use {value} or more")]
    if kind in ("maximum", "exclusiveMaximum"):
        return [Diagnostic(span, f"{where} must be at most {value}, not {instance}", hint or f"use {value} or less")]
    if kind == "maxLength" and isinstance(instance, str):
        return [Diagnostic(span, f"{where} is {len(instance)} characters long; at most {value} are allowed",
                           "shorten it")]
    if kind == "minLength":
        return [Diagnostic(span, f"{where} must not be empty", "give it a value, or remove the key")]
    if kind == "minItems":
        return [Diagnostic(span, f"{where} must list at least {value} item(s)", "add an item or remove the key")]
    if kind == "uniqueItems":
        return [Diagnostic(span, f"{where} lists the same item more than once", "remove the duplicates")]
    return [Diagnostic(span, f"{where}: {error.message[:200]}", hint)]  # pragma: no cover - all used keywords handled


@functools.lru_cache(maxsize=1)
def _fast() -> Check | None:
    """The schema compiled to a predicate (``config/fastschema.py``); None if it uses a keyword that does not
    compile (every document then goes through jsonschema)."""
    schema = load_schema()
    try:
        return compile_schema(substituted(inline_refs(schema, schema.get("$defs", {}))))
    except Unsupported:
        return None


def schema_diagnostics(doc: Document, data: Any) -> list[Diagnostic]:
    """Every JSON Schema violation of ``data`` (the document's data, maybe trimmed), spanned. A document the
    compiled predicate finds valid has none; only others are walked by jsonschema, which explains each error."""
    fast = _fast()
    if fast is not None and fast(data):
        return []
    errors = sorted(_validator().iter_errors(data), key=lambda e: (tuple(map(str, e.absolute_path)), str(e.validator)))
    out: list[Diagnostic] = []
    for error in errors:
        out.extend(_diagnose(doc, error))
    return out
