"""Safe YAML with spans: positions, duplicate keys, tags, alias bombs, nesting, encodings, size."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest
from cfgkit import ConfigFolder

from lorainfra.config.loader import MAX_FILE_BYTES, load_config
from lorainfra.config.yamlsource import MAX_DEPTH, MAX_NODES, decode, parse_yaml
from lorainfra.errors import ConfigError, Span


def messages(text: str) -> list[str]:
    _, diagnostics = parse_yaml(text, "f.yaml")
    return [f"{d.span}: {d.message}" for d in diagnostics]


def test_spans_of_keys_and_values() -> None:
    doc, diagnostics = parse_yaml("a:\n  b: [1, {c: x}]\n  'd': |\n    text\n", "f.yaml")
    assert diagnostics == [] and doc is not None
    assert doc.data == {"a": {"b": [1, {"c": "x"}], "d": "text\n"}}
    assert doc.key_spans[("a",)] == Span("f.yaml", 1, 1)
    assert doc.value_spans[("a", "b")] == Span("f.yaml", 2, 6)
    assert doc.value_spans[("a", "b", 1, "c")] == Span("f.yaml", 2, 14)
    assert doc.key_spans[("a", "d")] == Span("f.yaml", 3, 3)
    assert doc.span(("a", "b", 7, "zz")) == Span("f.yaml", 2, 6)  # nearest enclosing node
    assert doc.key_span(("a", "b", 0)) == Span("f.yaml", 2, 7)


def test_alias_value_points_at_its_use() -> None:
    doc, _ = parse_yaml("base: &b {x: 1}\nd:\n  r: *b\n", "f.yaml")
    assert doc is not None and doc.data["d"] == {"r": {"x": 1}}
    assert doc.value_spans[("d", "r")] == Span("f.yaml", 3, 6)


def test_merge_keys() -> None:
    doc, diagnostics = parse_yaml("base: &b {x: 1, y: 2}\nmore: &m {z: 3}\nd:\n  <<: [*b, *m]\n  y: 9\n", "f.yaml")
    assert diagnostics == [] and doc is not None
    assert doc.data["d"] == {"y": 9, "x": 1, "z": 3}


def test_scalars_stay_plain() -> None:
    doc, _ = parse_yaml("a: 2024-01-01\nb: 0x10\nc: ~\nd: 1.5\ne: yes\n123: k\nnull: n\n", "f.yaml")
    assert doc is not None
    assert doc.data == {"a": "2024-01-01", "b": 16, "c": None, "d": 1.5, "e": True, "123": "k", "null": "n"}


def test_duplicate_keys_are_reported() -> None:
    assert messages("a: 1\nb:\n  c: 1\n  c: 2\na: 3\n") == [
        "f.yaml:4:3: duplicate key 'c' in this mapping; first at f.yaml:3:3",
        "f.yaml:5:1: duplicate key 'a' in this mapping; first at f.yaml:1:1",
    ]


@pytest.mark.parametrize(("text", "expected"), [
    ("a: !!python/object:os.system {}\n", "f.yaml:1:4: unsafe YAML tag !!python/object:os.system is not allowed"),
    ("a: !!python/object/apply:os.system [ls]\n",
     "f.yaml:1:4: unsafe YAML tag !!python/object/apply:os.system is not allowed"),
    ("a: !!python/name:os.system ''\n", "f.yaml:1:4: unsafe YAML tag !!python/name:os.system is not allowed"),
    ("a:\n  b: !Ref x\n", "f.yaml:2:6: unsupported YAML tag !Ref"),
    ("a: !!binary aGVsbG8=\n", "f.yaml:1:4: unsupported YAML tag !!binary"),
    ("a: !!set {x}\n", "f.yaml:1:4: unsupported YAML tag !!set"),
    ("!!python/object:x\nk: v\n", "f.yaml:1:1: unsafe YAML tag !!python/object:x is not allowed"),
    ("? !!python/name:x\n: v\n", "f.yaml:1:3: unsafe YAML tag !!python/name:x is not allowed"),
])
def test_non_standard_tags_are_never_constructed(text: str, expected: str) -> None:
    assert messages(text) == [expected]


@pytest.mark.timeout(20)
def test_billion_laughs() -> None:
    lines = ['a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    for prev, name in zip("abcdefgh", "bcdefghi", strict=True):
        lines.append(f"{name}: &{name} [" + ",".join([f"*{prev}"] * 9) + "]")
    start = time.monotonic()
    result = messages("\n".join(lines) + "\n")
    assert time.monotonic() - start < 2
    assert len(result) == 1 and "too many YAML aliases/nodes" in result[0]
    assert result[0].startswith("f.yaml:6:")  # the first alias that pushes the count over the limit


def test_recursive_alias() -> None:
    assert messages("a: &a [1, *a]\n") == ["f.yaml:1:11: recursive YAML alias *a refers to a node that contains it"]


@pytest.mark.timeout(20)
def test_many_nodes() -> None:
    result = messages("".join(f"k{i}: {i}\n" for i in range(MAX_NODES)))
    assert len(result) == 1 and "too many YAML aliases/nodes" in result[0]


@pytest.mark.parametrize("text", [
    "a: " + "[" * 100_000,
    "a: " + "[" * 100 + "]" * 100 + "\n",
    "".join("  " * i + f"k{i}:\n" for i in range(200)) + "  " * 200 + "v\n",
    "".join("  " * i + "-\n" for i in range(200)),
])
@pytest.mark.timeout(20)
def test_deep_nesting_is_an_error_not_a_recursion_error(text: str) -> None:
    result = messages(text)
    assert len(result) == 1
    assert "nesting" in result[0]


def test_nesting_within_the_limit_is_fine() -> None:
    doc, diagnostics = parse_yaml("a: " + "[" * (MAX_DEPTH - 2) + "]" * (MAX_DEPTH - 2) + "\n", "f.yaml")
    assert diagnostics == [] and doc is not None


def test_alias_chains_cannot_nest_deeper_than_the_limit() -> None:
    lines = ["a0: &a0 " + "[" * 40 + "]" * 40]
    for i in range(1, 6):
        lines.append(f"a{i}: &a{i} " + "[" * 40 + f"*a{i - 1}" + "]" * 40)
    result = messages("\n".join(lines) + "\n")
    assert len(result) == 1 and "nested too deeply" in result[0]


@pytest.mark.parametrize(("text", "expected"), [
    ("a: b: c\n", "f.yaml:1:5: invalid YAML: mapping values are not allowed in this context"),
    ("a: [1, 2\nb: 3\n", "f.yaml:2:2: invalid YAML: did not find expected ',' or ']'"),
    ("a: 'unterminated\n", "f.yaml:2:1: invalid YAML: found unexpected end of stream"),
    ("a: *nowhere\n", "f.yaml:1:4: invalid YAML: found undefined alias 'nowhere'"),
    ("a: 1\n---\nb: 2\n", "f.yaml:2:1: invalid YAML: but found another document"),
    ("a:\n  b: 1\n c: 2\n", "f.yaml:3:2: invalid YAML: did not find expected key"),
    ("a: &x 1\nb: &x 2\n", "f.yaml:2:4: invalid YAML: second occurrence"),
])
def test_syntax_errors_carry_the_mark(text: str, expected: str) -> None:
    result = messages(text)
    assert len(result) == 1 and result[0].startswith(expected), result


def test_tab_indentation_hint() -> None:
    _, diagnostics = parse_yaml("a:\n\tb: 1\n", "f.yaml")
    assert str(diagnostics[0].span) == "f.yaml:2:1"
    assert "tabs" in diagnostics[0].hint


def test_control_characters() -> None:
    assert messages("a: é\nb: x\x07\n") == ["f.yaml:2:5: invalid character '\\x07' (#x0007) in YAML text"]


def test_decode() -> None:
    assert decode("a: é\n".encode(), "f.yaml") == ("a: é\n", [])
    assert decode(b"\xef\xbb\xbfa: 1\n", "f.yaml") == ("a: 1\n", [])
    text, problems = decode(b"a: 1\nb: \xff\xfe\n", "f.yaml")
    assert text is None and [f"{d.span}: {d.message}" for d in problems] == [
        "f.yaml:2:4: f.yaml is not valid UTF-8: byte 0xff at byte offset 8"]
    text, problems = decode(b"abc\n\x89PNG\x00\x00", "f.yaml")
    assert text is None and [f"{d.span}: {d.message}" for d in problems] == [
        "f.yaml:2:5: f.yaml looks binary (NUL byte at byte offset 8)"]
    text, problems = decode("a: 1\n".encode("utf-16"), "f.yaml")
    assert text is None and problems[0].message == "f.yaml is UTF-16 encoded"


# -- the same problems through the loader -------------------------------------------------------------


@pytest.mark.timeout(20)
def test_fifty_megabyte_file(cfg: ConfigFolder) -> None:
    folder = cfg.write({})
    chunk = b"# " + b"x" * 1021 + b"\n"
    with (folder / "huge.yaml").open("wb") as handle:
        for _ in range(50 * 1024):
            handle.write(chunk)
    start = time.monotonic()
    error = cfg_error(folder)
    assert time.monotonic() - start < 5
    assert [f"{d.span}: {d.message}" for d in error.diagnostics] == [
        f"huge.yaml: huge.yaml is 50.0 MB; config files may be at most {MAX_FILE_BYTES // 1_048_576} MB"]


def cfg_error(folder: Path) -> ConfigError:
    with pytest.raises(ConfigError) as info:
        load_config(folder)
    return info.value


def test_binary_and_non_utf8_files(cfg: ConfigFolder) -> None:
    errors = cfg.errors({
        "image.yaml": b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR",
        "latin1.yaml": "deployments:\n  café: {}\n".encode("latin-1"),
        "ok.yaml": "deployments: {}\n",
    })
    assert errors == [
        "image.yaml:3:1: image.yaml looks binary (NUL byte at byte offset 8)",
        "latin1.yaml:2:6: latin1.yaml is not valid UTF-8: byte 0xe9 at byte offset 18",
    ]


def test_a_broken_file_does_not_cause_dangling_reference_noise(cfg: ConfigFolder) -> None:
    errors = cfg.errors({
        "d.yaml": "deployments:\n  base: [\n",
        "l.yaml": "loras:\n  bot: {model: accounts/a/models/m, deployment: base}\n",
    })
    assert len(errors) == 1 and errors[0].startswith("d.yaml:3:1: invalid YAML")


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads any file")
def test_unreadable_file(cfg: ConfigFolder) -> None:
    folder = cfg.write({"d.yaml": "deployments: {}\n"})
    (folder / "d.yaml").chmod(0)
    try:
        assert "cannot read d.yaml" in str(cfg_error(folder))
    finally:
        (folder / "d.yaml").chmod(0o644)


def test_unsafe_tag_through_the_loader(cfg: ConfigFolder) -> None:
    errors = cfg.errors({"d.yaml": "deployments:\n  x: !!python/object/apply:os.system ['touch /tmp/pwned']\n"})
    assert errors == ["d.yaml:2:6: unsafe YAML tag !!python/object/apply:os.system is not allowed"]
