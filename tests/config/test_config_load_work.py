"""Loading a large config does each piece of work once: counted, never timed (issue 16)."""

from __future__ import annotations

from typing import Any

import pytest
from cfgkit import BASE, ConfigFolder

from lorainfra.config import schema, yamlsource
from lorainfra.kinds import base
from lorainfra.kinds.registry import kind_of

DEPLOYMENTS = 20
LORAS_PER = 5


def _fleet() -> dict[str, str]:
    deps = ["deployments:"]
    loras = ["loras:"]
    for d in range(DEPLOYMENTS):
        deps += [f"  base-{d:02d}:", f"    base_model: {BASE}", "    accelerator: {type: NVIDIA_H100_80GB, count: 1}",
                 "    addons: true"]
        loras += [f"  base-{d:02d}-lora-{m}:\n    model: accounts/acme/models/lora-{m}\n    deployment: base-{d:02d}"
                  for m in range(LORAS_PER)]
    return {"deployments.yaml": "\n".join(deps) + "\n", "loras.yaml": "\n".join(loras) + "\n"}


def _counting(monkeypatch: pytest.MonkeyPatch, owner: Any, name: str) -> list[Any]:
    calls: list[Any] = []
    original = getattr(owner, name)

    def counted(*args: Any, **kwargs: Any) -> Any:
        calls.append(args)
        return original(*args, **kwargs)

    monkeypatch.setattr(owner, name, counted)
    return calls


def test_a_valid_config_is_not_walked_by_jsonschema(cfg: ConfigFolder, monkeypatch: pytest.MonkeyPatch) -> None:
    validator = schema._validator()
    walked = _counting(monkeypatch, type(validator), "iter_errors")
    config = cfg.load(_fleet())
    assert len(config.resources) == DEPLOYMENTS * (1 + LORAS_PER)
    assert walked == []


def test_an_invalid_config_is_still_explained_by_jsonschema(cfg: ConfigFolder, monkeypatch: pytest.MonkeyPatch) -> None:
    validator = schema._validator()
    walked = _counting(monkeypatch, type(validator), "iter_errors")
    files = _fleet()
    files["deployments.yaml"] = files["deployments.yaml"].replace("count: 1}", "count: 0}", 1)
    errors = cfg.errors(files)
    assert errors == ["deployments.yaml:4:50: deployments.base-00.accelerator.count must be at least 1, not 0"]
    assert len(walked) == 1  # only the file the predicate rejected


def test_each_distinct_scalar_is_resolved_once_per_file(monkeypatch: pytest.MonkeyPatch) -> None:
    resolved = _counting(monkeypatch, yamlsource.Resolver, "resolve")
    text = "items:\n" + "".join(f"  - {{model: {BASE}, on: true, n: 1}}\n" for _ in range(50))
    doc, problems = yamlsource.parse_yaml(text, "x.yaml")
    assert doc is not None and not problems and len(doc.data["items"]) == 50
    scalars = [args for args in resolved if args[1] is yamlsource.ScalarNode]
    assert len(scalars) <= 8  # items, model, BASE, on, true, n, 1: not 50 times each


def test_each_declaration_is_valued_once_and_no_ignore_table_is_built(
        cfg: ConfigFolder, monkeypatch: pytest.MonkeyPatch) -> None:
    lora = type(kind_of("lora"))
    valued = _counting(monkeypatch, lora, "values")
    tables = _counting(monkeypatch, base.Kind, "ignore_paths")
    config = cfg.load(_fleet())
    assert len(config.resources) == DEPLOYMENTS * (1 + LORAS_PER)
    assert len(valued) == DEPLOYMENTS * LORAS_PER  # check_all and the loader share one working-out
    assert tables == []  # no resource has lifecycle.ignore_changes


def test_plain_scalars_skip_the_generic_composer_but_anchored_ones_keep_it(monkeypatch: pytest.MonkeyPatch) -> None:
    from yaml.composer import Composer

    generic = _counting(monkeypatch, Composer, "compose_scalar_node")
    doc, problems = yamlsource.parse_yaml("a: 1\nb: [x, y]\nc: &k z\nd: *k\n", "x.yaml")
    assert doc is not None and not problems
    assert doc.data == {"a": 1, "b": ["x", "y"], "c": "z", "d": "z"}
    assert doc.value_spans[("d",)] == yamlsource.Span("x.yaml", 4, 4)
    assert len(generic) == 1  # only the anchored scalar (its anchor must be recorded)
