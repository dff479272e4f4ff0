"""The compiled schema predicate (config/fastschema.py) says "valid" exactly when jsonschema finds no error."""

from __future__ import annotations

import copy
import random
from pathlib import Path
from typing import Any

import pytest

from lorainfra.config import schema
from lorainfra.config.fastschema import Unsupported, compile_schema
from lorainfra.config.yamlsource import parse_yaml
from tests.config.cfgkit import node_paths

ROOT = Path(__file__).resolve().parents[2]
FILES = sorted([*ROOT.glob("tests/config/broken/*/*.yaml"), *ROOT.glob("examples/**/*.yaml")])
ODD_VALUES: list[Any] = [None, True, False, 0, 1, -1, 1.0, 1.5, 2**40, "", "x", "accounts/a/models/m", "${var.x}",
                         [], ["a"], ["a", "a"], [1, 1.0], {}, {"type": "X"}, "NVIDIA_H100_80GB", "A" * 300, "1h", 0.0, float("nan"), float("inf"), -2.5]


def _data(path: Path) -> Any:
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        return None
    doc, _ = parse_yaml(text, path.name)
    return None if doc is None else doc.data


def _agree(data: Any) -> None:
    fast = schema._fast()
    assert fast is not None
    slow = not any(True for _ in schema._validator().iter_errors(data))
    assert fast(data) == slow, data


@pytest.mark.parametrize("path", FILES, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_corpus_and_example_file_gets_the_same_verdict(path: Path) -> None:
    _agree(_data(path))


def _set(node: Any, path: tuple[Any, ...], value: Any) -> Any:
    if not path:
        return value
    node[path[0]] = _set(node[path[0]], path[1:], value)
    return node


def test_mutations_of_valid_files_get_the_same_verdict() -> None:
    """Every value of every valid file replaced by odd values, and odd keys added, one at a time."""
    rng = random.Random(16)
    valid = [d for d in (_data(p) for p in FILES) if isinstance(d, dict)
             and not any(True for _ in schema._validator().iter_errors(d))]
    assert len(valid) >= 10
    checked = 0
    for data in valid:
        for path in node_paths(data):
            for value in rng.sample(ODD_VALUES, 6):
                _agree(_set(copy.deepcopy(data), path, value))
                checked += 1
            parent = path
            target = copy.deepcopy(data)
            node = target
            for part in parent:
                node = node[part]
            if isinstance(node, dict):
                node["unexpected_key"] = 1
                _agree(target)
                checked += 1
    assert checked > 1000


def test_an_unknown_keyword_does_not_compile() -> None:
    with pytest.raises(Unsupported):
        compile_schema({"type": "object", "oneOf": [{"type": "object"}]})
    with pytest.raises(Unsupported):
        compile_schema({"type": "decimal"})
    assert compile_schema({"description": "x", "x-hint": "y"})(object()) is True
