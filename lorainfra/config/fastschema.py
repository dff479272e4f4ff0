"""Fast schema check: the config JSON Schema compiled to plain Python predicates, answering only "valid or not".

``jsonschema`` walks the schema for every value (about a third of loading 10,700 resources). A valid config is
the common case and needs no explanation, so the loader first asks this compiled predicate; only a document it
finds invalid goes through ``jsonschema``, which finds and explains every error (``config/schema.py``). Each
keyword the config schema uses is implemented with draft 2020-12's meaning (``jsonschema``'s own helpers for
equality and uniqueness, imported only for values other than strings: among strings both are plain ``==``); a
schema with any other validation keyword does not compile (``Unsupported``) and every document then goes
through ``jsonschema``, so the verdict can never differ from it. A valid config never imports ``jsonschema``.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

Check = Callable[[Any], bool]

ANNOTATIONS = frozenset({"description", "title", "examples", "default", "$comment", "$schema", "$id", "$defs",
                         "deprecated", "readOnly", "writeOnly"})


class Unsupported(ValueError):
    """The schema uses a keyword this module does not implement: use jsonschema for every document."""


def _is_type(name: str, value: Any) -> bool:
    if name == "object":
        return isinstance(value, dict)
    if name == "array":
        return isinstance(value, list)
    if name == "string":
        return isinstance(value, str)
    if name == "boolean":
        return isinstance(value, bool)
    if name == "null":
        return value is None
    if isinstance(value, bool):
        return False
    if name == "number":
        return isinstance(value, int | float)
    if name == "integer":
        return isinstance(value, int) or (isinstance(value, float) and value.is_integer())
    raise Unsupported(f"type {name!r}")


def _equal(one: Any, two: Any) -> bool:
    """JSON equality (``true`` is not ``1``): ``==`` between strings, else jsonschema's ``equal``."""
    if isinstance(one, str) and isinstance(two, str):
        return one == two
    from jsonschema._utils import equal

    return bool(equal(one, two))


def _unique(items: list[Any]) -> bool:
    """No two items JSON-equal: a set's size among strings, else jsonschema's ``uniq``."""
    if all(isinstance(item, str) for item in items):
        return len(set(items)) == len(items)
    from jsonschema._utils import uniq

    return bool(uniq(items))


def _number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def compile_schema(schema: Any) -> Check:
    """A predicate equal to "``jsonschema`` finds no error" for ``schema`` (refs already inlined)."""
    if schema is True:
        return lambda value: True
    if schema is False:
        return lambda value: False
    if not isinstance(schema, dict):
        raise Unsupported(f"schema {schema!r}")
    checks: list[Check] = []
    for key, arg in schema.items():
        if key in ANNOTATIONS or key.startswith("x-"):
            continue
        checks.append(_keyword(key, arg, schema))
    if not checks:
        return lambda value: True
    if len(checks) == 1:
        return checks[0]
    return lambda value: all(check(value) for check in checks)


def _keyword(key: str, arg: Any, schema: dict[str, Any]) -> Check:
    if key == "type":
        names = arg if isinstance(arg, list) else [arg]
        for name in names:
            _is_type(name, None)  # an unknown type name does not compile
        return lambda value: any(_is_type(name, value) for name in names)
    if key == "enum":
        return lambda value: any(_equal(value, choice) for choice in arg)
    if key == "const":
        return lambda value: _equal(value, arg)
    if key == "pattern":
        found = re.compile(arg).search
        return lambda value: not isinstance(value, str) or found(value) is not None
    if key in ("minLength", "maxLength"):
        limit = int(arg)
        if key == "minLength":
            return lambda value: not isinstance(value, str) or len(value) >= limit
        return lambda value: not isinstance(value, str) or len(value) <= limit
    if key in ("minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum"):
        bound = arg
        test: Callable[[Any], bool] = {  # written as jsonschema's failing comparison (NaN fails none)
            "minimum": lambda v: not v < bound, "maximum": lambda v: not v > bound,
            "exclusiveMinimum": lambda v: not v <= bound, "exclusiveMaximum": lambda v: not v >= bound}[key]
        return lambda value: not _number(value) or test(value)
    if key in ("minItems", "maxItems"):
        limit = int(arg)
        if key == "minItems":
            return lambda value: not isinstance(value, list) or len(value) >= limit
        return lambda value: not isinstance(value, list) or len(value) <= limit
    if key == "uniqueItems":
        if not arg:
            return lambda value: True
        return lambda value: not isinstance(value, list) or _unique(value)
    if key == "items":
        each = compile_schema(arg)
        return lambda value: not isinstance(value, list) or all(each(item) for item in value)
    if key == "required":
        names = list(arg)
        return lambda value: not isinstance(value, dict) or all(name in value for name in names)
    if key == "propertyNames":
        named = compile_schema(arg)
        return lambda value: not isinstance(value, dict) or all(named(name) for name in value)
    if key == "allOf":
        parts = [compile_schema(part) for part in arg]
        return lambda value: all(part(value) for part in parts)
    if key == "properties":
        props = {name: compile_schema(sub) for name, sub in arg.items()}

        def properties(value: Any) -> bool:
            if not isinstance(value, dict):
                return True
            for name, sub in value.items():
                check = props.get(name)
                if check is not None and not check(sub):
                    return False
            return True

        return properties
    if key == "patternProperties":
        patterns = [(re.compile(pattern).search, compile_schema(sub)) for pattern, sub in arg.items()]
        return lambda value: not isinstance(value, dict) or all(
            check(sub) for name, sub in value.items() for found, check in patterns if found(name))
    if key == "additionalProperties":
        extra = compile_schema(arg)
        known = set(schema.get("properties", {}))
        searches = [re.compile(pattern).search for pattern in schema.get("patternProperties", {})]
        return lambda value: not isinstance(value, dict) or all(
            extra(sub) for name, sub in value.items()
            if name not in known and not any(found(name) for found in searches))
    raise Unsupported(f"keyword {key!r}")
