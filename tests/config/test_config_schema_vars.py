"""The JSON Schema that editors use accepts ``${var.NAME}`` where a number or boolean goes (issue 15); the loader
still checks the substituted value's type."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest

from lorainfra.config.loader import load_config
from lorainfra.errors import ConfigError
from tests.config.cfgkit import BASE, ConfigFolder

SCHEMA = Path(__file__).resolve().parents[2] / "schemas" / "config.schema.json"


def editor_errors(data: object) -> list[str]:
    """What an editor's schema validator (no lorainfra code) says about ``data``."""
    schema = json.loads(SCHEMA.read_text())
    return [e.message for e in jsonschema.Draft202012Validator(schema).iter_errors(data)]


def deployment(**keys: object) -> dict[str, object]:
    return {"deployments": {"base": {"base_model": BASE, "shape": "default", **keys}}}


@pytest.mark.parametrize("keys", [
    {"replicas": {"min": "${var.min}", "max": "${var.max}"}},
    {"addons": "${var.addons}"},
    {"max_context_length": "${ var.ctx }"},
    {"autoscaling": {"load_targets": {"default": "${var.target}"}}},
])
def test_the_schema_accepts_a_variable_where_a_number_or_boolean_goes(keys: dict[str, object]) -> None:
    assert editor_errors(deployment(**keys)) == []


@pytest.mark.parametrize("keys", [
    {"replicas": {"min": "two"}}, {"addons": "yes please"}, {"replicas": {"min": "${var.min} and more"}},
    {"replicas": {"min": -1}},
])
def test_the_schema_still_flags_other_strings_and_bad_numbers(keys: dict[str, object]) -> None:
    assert editor_errors(deployment(**keys)) != []


def test_after_substitution_the_type_is_still_checked(cfg: ConfigFolder) -> None:
    folder = cfg.write({
        "lorainfra.yaml": "provider: {account: q, endpoint: local}\nvariables:\n  min: {default: two}\n"
                          "  addons: {default: maybe}\n",
        "d.yaml": f"deployments:\n  base:\n    base_model: {BASE}\n    shape: default\n"
                  "    replicas: {min: '${var.min}'}\n    addons: ${var.addons}\n"})
    with pytest.raises(ConfigError) as info:
        load_config(folder)
    assert [f"{d.span}: {d.message}" for d in info.value.diagnostics] == [
        "d.yaml:5:21: deployments.base.replicas.min must be an integer, not the string 'two'",
        "d.yaml:6:13: deployments.base.addons must be true or false, not the string 'maybe'",
    ]


def test_every_variable_alternative_in_the_schema_is_the_one_the_loader_drops() -> None:
    """A pattern typo in one place would make the loader accept any string there: each variable alternative
    uses VARIABLE_PATTERN, and none survives ``substituted``."""
    from lorainfra.config.schema import VARIABLE_PATTERN, load_schema, substituted

    found: list[object] = []

    def walk(node: object, strict: bool) -> None:
        if isinstance(node, dict):
            types = node.get("type")
            if isinstance(types, list) and types[1:] == ["string"] and types[0] in ("integer", "number", "boolean"):
                found.append((strict, node.get("pattern")))
            for value in node.values():
                walk(value, strict)
        elif isinstance(node, list):
            for item in node:
                walk(item, strict)

    walk(load_schema(), False)
    assert len(found) >= 15 and all(pattern == VARIABLE_PATTERN for _, pattern in found)
    assert VARIABLE_PATTERN not in json.dumps(substituted(load_schema()))
