"""lorainfra fmt: canonical layout that keeps comments and meaning; idempotent; --check like terraform."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from lorainfra.config.fmt import FormatError, format_folder, format_text
from lorainfra.config.loader import config_files, load_config
from lorainfra.config.model import Config
from tests.conftest import EXAMPLES, ROOT
from tests.e2e.helpers import cli

BROKEN = ROOT / "tests" / "config" / "broken"
MAIN = "provider:\n  account: quickstart\n  endpoint: local\n"


def summary(config: Config) -> dict[str, Any]:
    """What a config means, without where it was written."""
    return {
        "resources": {str(a): (dict(r.attributes), r.depends_on, r.lifecycle) for a, r in config.resources.items()},
        "provider": (config.provider.account, config.provider.endpoint, config.provider.emulator),
        "state": config.state,
        "files": config.files,
    }


def formatted_copy(src: Path, dst: Path) -> Path:
    shutil.copytree(src, dst, ignore=shutil.ignore_patterns(".lorainfra"))
    files, problems = format_folder(dst)
    assert problems == []
    for f in files:
        (dst / f.name).write_text(f.formatted)
    return dst


def test_examples_are_already_formatted() -> None:
    for folder in [EXAMPLES / "quickstart"]:
        files, problems = format_folder(folder)
        assert problems == [] and files, folder
        assert [f.name for f in files if f.changed] == [], "run `lorainfra fmt examples/quickstart`"


def test_formatted_examples_load_to_the_same_config(tmp_path: Path) -> None:
    original = load_config(EXAMPLES / "quickstart")
    assert summary(load_config(formatted_copy(EXAMPLES / "quickstart", tmp_path / "q"))) == summary(original)


RICH = {
    "lorainfra.yaml": """\
# settings
state: {path: .lorainfra/s.json, backend: local}
provider:
  emulator: {deployed_after: 1s, ready_after: '2s'}
  endpoint: "local"
  account: quickstart
""",
    "deployments.yaml": """\
x-gpu: &gpu
  accelerator: {count: 2, type: NVIDIA_H100_80GB}
deployments:
  # the base
  base:
    lifecycle: {ignore_changes: ['replicas.max'], prevent_destroy: true}
    addons: true     # multi-LoRA
    replicas:
      max: 4
      min: 1
    <<: *gpu
    # the model it serves
    base_model: 'accounts/fireworks/models/llama-v3p1-8b-instruct'
    description: "on"
    display_name: 'it''s "quoted"'
  merged:
    replicas: {max: 1, min: 1}
    accelerator: {type: NVIDIA_A100_80GB, count: 1}
    base_model: accounts/quickstart/models/sql-helper-v2
""",
    "loras.yaml": """\
loras:
  "bot":
    deployment: base
    model: "accounts/quickstart/models/support-bot-v3"
  sum: {serverless: true, model: accounts/quickstart/models/summarizer-v1}
""",
}


def write(folder: Path, files: dict[str, str]) -> Path:
    folder.mkdir()
    for name, text in files.items():
        (folder / name).write_text(text)
    return folder


def test_canonical_layout_golden(tmp_path: Path) -> None:
    assert format_text(RICH["deployments.yaml"]) == """\
x-gpu: &gpu
  accelerator: {count: 2, type: NVIDIA_H100_80GB}
deployments:
  # the base
  base:
    <<: *gpu
    # the model it serves
    base_model: accounts/fireworks/models/llama-v3p1-8b-instruct
    display_name: it's "quoted"
    description: "on"
    replicas:
      min: 1
      max: 4
    addons: true     # multi-LoRA
    lifecycle: {prevent_destroy: true, ignore_changes: [replicas.max]}
  merged:
    base_model: accounts/quickstart/models/sql-helper-v2
    accelerator: {type: NVIDIA_A100_80GB, count: 1}
    replicas: {min: 1, max: 1}
"""
    assert format_text(RICH["lorainfra.yaml"]) == """\
# settings
provider:
  account: quickstart
  endpoint: local
  emulator: {ready_after: 2s, deployed_after: 1s}
state: {backend: local, path: .lorainfra/s.json}
"""


def test_rich_config_loads_to_the_same_config_after_fmt(tmp_path: Path) -> None:
    src = write(tmp_path / "src", RICH)
    assert summary(load_config(formatted_copy(src, tmp_path / "fmt"))) == summary(load_config(src))


def test_unreadable_yaml_is_a_diagnostic_with_position() -> None:
    try:
        format_text("loras:\n  a: [\n", "loras.yaml")
    except FormatError as exc:
        assert str(exc.diagnostic.span) == "loras.yaml:3:1"
        assert "cannot format loras.yaml" in exc.diagnostic.message
    else:
        raise AssertionError("an unclosed flow list was formatted")


def test_broken_corpus_keeps_its_meaning_or_is_refused() -> None:
    """Every file of the broken-config corpus: fmt refuses it, or its YAML data is unchanged."""
    formatted = 0
    for folder in sorted(p for p in BROKEN.iterdir() if p.is_dir()):
        for name in config_files(folder):
            text = (folder / name).read_text(encoding="utf-8", errors="replace")
            try:
                out = format_text(text, name)
                before = yaml.safe_load(text)
            except (FormatError, yaml.YAMLError):
                continue
            assert yaml.safe_load(out) == before, f"{folder.name}/{name}"
            assert format_text(out, name) == out, f"{folder.name}/{name}"
            formatted += 1
    assert formatted > 100


# --- properties ------------------------------------------------------------------------------------------

TRICKY = ["plain", "yes", "on", "No", "null", "~", "1:30", "0755", "1e3", "2024-01-01", "a: b", "#x", "x #y",
          "", " lead", "it's", 'say "hi"', "ünïcode", "-", "[x]", "{y}", "*z", "&a", "!t", "%p", "@q", "`r"]
STYLES = [None, "'", '"']


@st.composite
def deployment(draw: st.DrawFn) -> dict[str, Any]:
    body: dict[str, Any] = {"base_model": "accounts/fireworks/models/llama-v3p1-8b-instruct"}
    if draw(st.booleans()):
        body["display_name"] = draw(st.sampled_from(TRICKY))
    if draw(st.booleans()):
        body["description"] = draw(st.sampled_from(TRICKY))
    low = draw(st.integers(0, 3))
    body["replicas"] = dict(draw(st.permutations([("min", low), ("max", low + draw(st.integers(1, 3)))])))
    body["accelerator"] = dict(draw(st.permutations([("type", "NVIDIA_H100_80GB"), ("count", 1)])))
    if draw(st.booleans()):
        body["addons"] = draw(st.booleans())
    if draw(st.booleans()):
        body["lifecycle"] = {"ignore_changes": ["replicas.max"], "prevent_destroy": draw(st.booleans())}
    return dict(draw(st.permutations(list(body.items()))))


@st.composite
def config_file(draw: st.DrawFn) -> str:
    names = draw(st.lists(st.sampled_from(["a", "b-2", "c3", "yes", "on"]), min_size=1, max_size=3, unique=True))
    data = {"deployments": {name: draw(deployment()) for name in names}}
    text = yaml.safe_dump(data, sort_keys=False, width=4096, allow_unicode=True,
                          default_flow_style=draw(st.sampled_from([False, None])),
                          default_style=draw(st.sampled_from(STYLES)))
    lines = text.splitlines()
    spots = draw(st.lists(st.integers(0, len(lines)), max_size=4, unique=True))
    for i, spot in enumerate(sorted(spots, reverse=True)):
        lines.insert(spot, f"# comment {i}")
    return "\n".join(lines) + "\n"


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(config_file())
def test_fmt_is_idempotent_and_keeps_data_and_comments(text: str) -> None:
    once = format_text(text, "deployments.yaml")
    assert format_text(once, "deployments.yaml") == once
    assert yaml.safe_load(once) == yaml.safe_load(text)
    kept = [line.strip() for line in once.splitlines()]
    for line in text.splitlines():
        if line.startswith("# comment"):
            assert line in kept  # re-indented with its key when the block was reordered, never lost


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                  HealthCheck.function_scoped_fixture])
@given(config_file())
def test_formatted_file_loads_to_the_same_config(tmp_path_factory: Any, text: str) -> None:
    src = write(tmp_path_factory.mktemp("c") / "src", {"lorainfra.yaml": MAIN, "deployments.yaml": text})
    dst = src.parent / "fmt"
    assert summary(load_config(formatted_copy(src, dst))) == summary(load_config(src))


# --- the command -------------------------------------------------------------------------------------------

def test_cli_check_lists_unformatted_files_and_fmt_fixes_them(tmp_path: Path) -> None:
    src = write(tmp_path / "cfg", RICH)
    before = {n: (src / n).read_text() for n in RICH}
    r = cli("fmt", "--check", str(src))
    assert r.code == 3, r
    assert sorted(r.out.split()) == sorted(str(src / n) for n in RICH)
    assert {n: (src / n).read_text() for n in RICH} == before  # --check changes nothing
    r = cli("fmt", str(src))
    assert r.code == 0, r
    assert cli("fmt", "--check", str(src)).code == 0
    assert (src / "loras.yaml").read_text() == format_text(RICH["loras.yaml"])


def test_cli_refuses_to_change_anything_when_a_file_is_broken(tmp_path: Path) -> None:
    src = write(tmp_path / "cfg", {**RICH, "bad.yaml": "loras:\n  a: [\n"})
    before = {n: (src / n).read_text() for n in RICH}
    r = cli("fmt", str(src))
    assert r.code == 1
    assert f"{src / 'bad.yaml'}:3:1: error: cannot format bad.yaml" in r.err
    assert "Traceback" not in r.err
    assert {n: (src / n).read_text() for n in RICH} == before


def test_cli_diff(tmp_path: Path) -> None:
    src = write(tmp_path / "cfg", {"lorainfra.yaml": 'provider: {endpoint: local, account: "q"}\n'})
    r = cli("fmt", "--check", "--diff", str(src))
    assert r.code == 3
    assert "-provider: {endpoint: local, account: \"q\"}\n+provider: {account: q, endpoint: local}" in r.out
