"""The config JSON Schema, the duration syntax, and the tables that tie YAML keys to attributes."""

from __future__ import annotations

import json
import math
import re
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from lorainfra.config.durations import DURATION_PATTERN, describe, parse_duration, wire_duration
from lorainfra.config.schema import load_schema
from lorainfra.kinds.registry import KINDS

ROOT = Path(__file__).resolve().parents[2]


def test_schema_is_valid_and_packaged() -> None:
    schema = load_schema()
    jsonschema.Draft202012Validator.check_schema(schema)
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert schema == json.loads((ROOT / "schemas" / "config.schema.json").read_text())


def _objects(node: Any, path: str = "#") -> list[tuple[str, dict[str, Any]]]:
    found = []
    if isinstance(node, dict):
        if "properties" in node:
            found.append((path, node))
        for key, value in node.items():
            found += _objects(value, f"{path}/{key}")
    elif isinstance(node, list):
        for index, value in enumerate(node):
            found += _objects(value, f"{path}/{index}")
    return found


def test_additional_properties_false_everywhere() -> None:
    for path, node in _objects(load_schema()):
        assert node.get("additionalProperties") is False, path


INT32_MAX = 2**31 - 1


def _integers(node: Any, path: str = "#") -> list[tuple[str, dict[str, Any]]]:
    found = []
    if isinstance(node, dict):
        if node.get("type") == "integer" or (isinstance(node.get("type"), list) and "integer" in node["type"]):
            found.append((path, node))
        for key, value in node.items():
            found += _integers(value, f"{path}/{key}")
    elif isinstance(node, list):
        for index, value in enumerate(node):
            found += _integers(value, f"{path}/{index}")
    return found


def test_every_integer_is_bounded_like_the_api_int32_fields() -> None:
    """replicas, accelerator count and context length are int32 in the API (firectl: --min-replica-count
    int32, --accelerator-count int32); a larger value must fail validate, not the server (issue 13, 21)."""
    integers = _integers(load_schema())
    assert len(integers) >= 4
    for path, node in integers:
        assert node.get("maximum") == INT32_MAX, path


def test_int32_bounds_through_the_loader(tmp_path: Path) -> None:
    from cfgkit import ConfigFolder

    kit = ConfigFolder(tmp_path)
    dep = ("deployments:\n  base:\n    base_model: accounts/fireworks/models/m\n"
           "    accelerator: {{type: NVIDIA_H100_80GB, count: {n}}}\n    replicas: {{min: {n}, max: {n}}}\n"
           "    max_context_length: {n}\n")
    config = kit.load({"deployments.yaml": dep.format(n=INT32_MAX)})
    attributes = next(iter(config.resources.values())).attributes
    assert attributes["min_replica_count"] == attributes["accelerator_count"] == INT32_MAX
    errors = kit.errors({"deployments.yaml": dep.format(n=INT32_MAX + 1)})
    assert len(errors) == 4
    assert all(f"must be at most {INT32_MAX}, not {INT32_MAX + 1}" in error for error in errors)


def test_enums_follow_the_contract() -> None:
    defs = load_schema()["$defs"]["deployment"]["properties"]
    accelerators = defs["accelerator"]["properties"]["type"]["examples"]  # known, not enforced: see below
    precisions = defs["precision"]["enum"]
    regions = defs["placement"]["properties"]["region"]["enum"]
    multi = defs["placement"]["properties"]["multi_region"]["enum"]
    assert len(accelerators) == 11 and {"NVIDIA_H100_80GB", "NVIDIA_B300_288GB"} <= set(accelerators)
    pattern = re.compile(defs["accelerator"]["properties"]["type"]["pattern"])
    assert all(pattern.search(value) for value in accelerators)
    assert not any(pattern.search(bad) for bad in ("ACCELERATOR_TYPE_UNSPECIFIED", "h100", "NVIDIA H100", "_X", "X_"))
    assert len(precisions) == 14 and {"FP8", "BF16", "FP4_MX_MOE"} <= set(precisions)
    assert len(regions) == 36 and {"US_IOWA_1", "US_NEWYORK_1"} <= set(regions)
    assert multi == ["GLOBAL", "US", "EUROPE", "APAC"]
    for values in (accelerators, precisions, regions, multi):
        assert not any(value.endswith("UNSPECIFIED") for value in values)
    assert defs["placement"]["properties"]["regions"]["items"]["enum"] == regions


def test_duration_pattern_matches_the_parser() -> None:
    assert load_schema()["$defs"]["duration"]["pattern"] == DURATION_PATTERN


@pytest.mark.parametrize(("text", "seconds"), [
    ("30s", 30), ("10m", 600), ("1h", 3600), ("1h30m", 5400), ("500ms", 0.5), ("1d", 86400), ("2.5s", 2.5),
    (0, 0), (2, 2), (0.25, 0.25), ("0s", 0),
])
def test_parse_duration(text: object, seconds: float) -> None:
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("bad", ["", "10", "10 m", "1x", "-1s", "m", True, None, [], -1, math.inf, math.nan])
def test_parse_duration_rejects(bad: object) -> None:
    with pytest.raises(ValueError):
        parse_duration(bad)


def test_wire_and_human_forms() -> None:
    assert [wire_duration(s) for s in (600, 30.0, 0.5, 0)] == ["600s", "30s", "0.5s", "0s"]
    assert [describe(s) for s in (3600, 3660, 90, 30, 0.5)] == ["1h", "1h1m", "1m30s", "30s", "0.5s"]


def test_every_attribute_has_a_yaml_key_the_schema_knows() -> None:
    schema = load_schema()
    for kind in KINDS.values():
        paths = kind.ignore_paths()
        section = schema["properties"][kind.section]["additionalProperties"]
        for spec in kind.attributes:
            # the YAML path names its attribute, and only attributes derived from that one key (a model's
            # files: give its rank, target modules, digest and folder)
            assert spec.name in paths[".".join(spec.yaml)]
            assert all(kind.spec(n).yaml == spec.yaml for n in paths[".".join(spec.yaml)])  # type: ignore[union-attr]
            assert paths[spec.name] == (spec.name,)  # and so does the flat attribute name
            node = section
            for part in spec.yaml:  # every YAML path is a key of the kind's schema fragment
                node = (node.get("$ref") and _resolve(schema, node["$ref"])) or node
                assert part in node["properties"], (kind.name, spec.yaml)
                node = node["properties"][part]


def _resolve(schema: dict, ref: str) -> dict:
    node = schema
    for part in ref.lstrip("#/").split("/"):
        node = node[part]
    return node


def test_ignore_paths_only_name_managed_attributes() -> None:
    for kind in KINDS.values():
        managed = {spec.name for spec in kind.attributes}
        for names in kind.ignore_paths().values():
            assert set(names) <= managed


def test_docs_mention_every_key() -> None:
    docs = (ROOT / "docs" / "config.md").read_text()
    names: set[str] = set()
    for _, node in _objects(load_schema()):
        names.update(node["properties"])
    missing = sorted(name for name in names if not re.search(rf"`([\w]+\.)*{name}(\.[\w]+)*:?`", docs))
    assert not missing, f"docs/config.md does not mention {missing}"
