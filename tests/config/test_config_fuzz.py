"""Fuzzing the loader: whatever the input, the outcome is a Config or a ConfigError, never a traceback."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from make_corpus import BASE, DEP, MAIN

from lorainfra.config.loader import load_config
from lorainfra.config.model import Config
from lorainfra.errors import ConfigError
from tests.config.cfgkit import node_paths

VALID_LORAS = (
    "loras:\n  bot:\n    model: accounts/a/models/m\n    deployment: base\n"
    f"    base_model: {BASE}\n    lifecycle: {{ignore_changes: [description]}}\n"
    "  free:\n    model: accounts/a/models/f\n    serverless: true\n"
)
VALID_DEP = DEP + (
    "    replicas: {min: 1, max: 2}\n"
    "    autoscaling: {scale_up_window: 30s, scale_to_zero_window: 1h, load_targets: {default: 0.5}}\n"
    "    placement: {region: US_IOWA_1}\n"
    "    depends_on: [deployment.other]\n"
    f"  other:\n    base_model: {BASE}\n    accelerator: {{type: NVIDIA_H100_80GB, count: 1}}\n"
)
VALID_MAIN = MAIN + "  emulator: {ready_after: 1s}\nstate:\n  backend: local\n  path: s.json\n"
TOKENS = [
    "\n", " ", "  ", "    ", "\t", ":", ": ", "- ", "[", "]", "{", "}", ",", "'", '"', "#", "&a ", "*a", "<<: ",
    "!!python/object:os.system ", "!Ref ", "!!str ", "---\n", "...\n", "? ", "|\n", ">-\n", "%YAML 1.1\n",
    "deployments", "loras", "provider", "state", "base", "bot", "base_model", "model", "deployment",
    "serverless", "addons", "replicas", "min", "max", "shape", "default", "accelerator", "type", "count",
    "placement", "region", "regions", "depends_on", "lifecycle", "ignore_changes", "autoscaling",
    "scale_up_window", "load_targets", "NVIDIA_H100_80GB", "US_IOWA_1", "true", "false", "null", "~", "1",
    "-1", "0.5", ".nan", ".inf", "1h", "30s", "deployment.base", "lora.bot", BASE, "\x00", "\xff", "é",
    "\ufeff", "\x85", "\u2028",
]


def outcome(files: dict[str, str | bytes], folder: Path | None = None) -> Config | ConfigError:
    """Load ``files`` (in ``folder``, emptied first, or a fresh temporary folder); check the outcome."""
    if folder is None:
        with tempfile.TemporaryDirectory() as tmp:
            return outcome(files, Path(tmp))
    for stale in folder.iterdir():
        stale.unlink()
    for name, content in files.items():
        data = content if isinstance(content, bytes) else content.encode("utf-8", "surrogatepass")
        (folder / name).write_bytes(data)
    try:
        return load_config(folder)
    except ConfigError as error:
        text = str(error)
        assert "internal error" not in text, text
        assert error.diagnostics, "a ConfigError must say what is wrong"
        for diagnostic in error.diagnostics:
            assert diagnostic.message
            assert diagnostic.span.file in files or diagnostic.span.file == "lorainfra.yaml"
        return error


# LORAINFRA_FUZZ_SCALE=20 pytest tests/config/test_config_fuzz.py runs 20x the examples (a deeper hunt)
SCALE = int(os.environ.get("LORAINFRA_FUZZ_SCALE", "1"))
FAST = settings(max_examples=150 * SCALE, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@pytest.mark.timeout(60 * SCALE)
@FAST
@given(st.text(max_size=400))
def test_random_text(text: str) -> None:
    outcome({"lorainfra.yaml": MAIN, "deployments.yaml": text})


@pytest.mark.timeout(60 * SCALE)
@FAST
@given(st.binary(max_size=300))
def test_random_bytes(data: bytes) -> None:
    outcome({"lorainfra.yaml": data})


@pytest.mark.timeout(60 * SCALE)
@FAST
@given(st.lists(st.sampled_from(TOKENS), max_size=80))
def test_random_token_soup(tokens: list[str]) -> None:
    outcome({"lorainfra.yaml": MAIN, "x.yaml": "".join(tokens)})


def _mutate(text: str, edits: list[tuple[int, int, int, str]]) -> str:
    for kind, a, b, token in edits:
        if not text:
            text = token
            continue
        i, j = sorted((a % len(text), b % len(text)))
        if kind == 0:
            text = text[:i] + text[j:]  # delete a range
        elif kind == 1:
            text = text[:i] + token + text[i:]  # insert a token
        elif kind == 2:
            text = text[:i] + token + text[j:]  # replace a range
        else:
            lines = text.split("\n")
            k, m = a % len(lines), b % len(lines)
            lines[k], lines[m] = lines[m], lines[k]  # swap two lines
            text = "\n".join(lines)
    return text


EDITS = st.lists(st.tuples(st.integers(0, 3), st.integers(0, 10_000), st.integers(0, 10_000), st.sampled_from(TOKENS)),
                 min_size=1, max_size=6)


def test_mutation_base_configs_are_valid() -> None:
    assert isinstance(outcome({"lorainfra.yaml": VALID_MAIN, "d.yaml": VALID_DEP, "l.yaml": VALID_LORAS}), Config)


@pytest.mark.timeout(60 * SCALE)
@settings(max_examples=150 * SCALE, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(EDITS, EDITS, EDITS)
def test_mutations_of_a_valid_config(main_edits: Any, dep_edits: Any, lora_edits: Any) -> None:
    outcome({
        "lorainfra.yaml": _mutate(VALID_MAIN, main_edits),
        "d.yaml": _mutate(VALID_DEP, dep_edits),
        "l.yaml": _mutate(VALID_LORAS, lora_edits),
    })


KEYS = st.sampled_from(["base_model", "model", "deployment", "serverless", "addons", "replicas", "min", "max",
                        "shape", "accelerator", "type", "count", "placement", "region", "multi_region", "regions",
                        "depends_on", "lifecycle", "ignore_changes", "prevent_destroy", "autoscaling",
                        "scale_up_window", "scale_down_window", "scale_to_zero_window", "load_targets", "default",
                        "display_name", "description", "max_context_length", "precision", "base", "bot",
                        "ready_after", "deployed_after", "delete_after", "seed", "x-common",
                        "Bad_Name", "x" * 70, "1", ""])
SCALARS = st.one_of(
    st.none(), st.booleans(), st.integers(-10**20, 10**20), st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from(["default", BASE, "accounts/a/models/m", "NVIDIA_H100_80GB", "US_IOWA_1", "US", "FP8", "30s",
                     "2h", "-1s", "deployment.base", "lora.bot", "base", "bot", "replicas.max", "local",
                     "postgres", "https://api.fireworks.ai/v1", "x" * 100]),
    st.text(max_size=20),
)
VALUES = st.recursive(SCALARS, lambda inner: st.one_of(st.lists(inner, max_size=4),
                                                       st.dictionaries(KEYS, inner, max_size=5)), max_leaves=12)
BODIES = st.dictionaries(KEYS, VALUES, max_size=8)


@pytest.mark.timeout(60 * SCALE)
@settings(max_examples=40 * SCALE, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.dictionaries(st.sampled_from(["base", "other", "Bad", "bot"]), BODIES, max_size=3),
    st.dictionaries(st.sampled_from(["bot", "free", "base", "x_y"]), BODIES, max_size=3),
    st.dictionaries(st.sampled_from(["account", "endpoint", "emulator", "seed"]), VALUES, max_size=3),
    st.dictionaries(st.sampled_from(["backend", "path", "dsn_env", "workspace"]), VALUES, max_size=3),
)
def test_random_structures(deployments: Any, loras: Any, provider: Any, state: Any) -> None:
    main = yaml.safe_dump({"provider": provider, "state": state}, allow_unicode=True)
    other = yaml.safe_dump({"deployments": deployments, "loras": loras}, allow_unicode=True)
    outcome({"lorainfra.yaml": main, "resources.yaml": other})


EDGE_VALUES: list[Any] = [
    None, True, 0, -1, 1.5, 10**30, float("nan"), float("-inf"), "", "9" * 400 + "s", "-1s", "x" * 200,
    "deployment.base", [], {}, [None], {"default": float("nan")},
]


def _replace(node: Any, path: tuple[Any, ...], value: Any) -> Any:
    if not path:
        return value
    copy = dict(node) if isinstance(node, dict) else list(node)
    copy[path[0]] = _replace(copy[path[0]], path[1:], value)
    return copy


@pytest.mark.timeout(60)
def test_every_node_of_a_valid_config_replaced_by_edge_values() -> None:
    """Exhaustive, not random: each node of a full valid config, in turn, becomes each edge value."""
    files = {"lorainfra.yaml": VALID_MAIN, "d.yaml": VALID_DEP, "l.yaml": VALID_LORAS}
    docs = {name: yaml.safe_load(text) for name, text in files.items()}
    runs = 0
    with tempfile.TemporaryDirectory() as tmp:
        for name, doc in docs.items():
            for path in node_paths(doc)[1:]:
                for value in EDGE_VALUES:
                    changed = dict(files, **{name: yaml.safe_dump(_replace(doc, path, value), allow_unicode=True)})
                    outcome(changed, Path(tmp))
                    runs += 1
    assert runs > 500
