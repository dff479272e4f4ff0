"""The broken-config corpus: every case fails with ConfigError showing the expected diagnostics."""

from __future__ import annotations

import filecmp
import resource
from pathlib import Path

import pytest
from make_corpus import (
    BROKEN,
    CASES,
    DYNAMIC,
    DYNAMIC_GOLDEN,
    GOLDEN,
    rendered,
    selection,
    write_case,
    write_dynamic,
)

from lorainfra.config.loader import load_config
from lorainfra.errors import ConfigError

STATIC = sorted(path.name for path in BROKEN.iterdir() if path.is_dir())


def expect_failure(folder: Path, expected: list[str], golden: Path) -> None:
    """The intended diagnostics are there (``expected``), and the whole output is exactly the golden."""
    with pytest.raises(ConfigError) as info:
        load_config(folder, selection=selection(folder))
    text = str(info.value)
    missing = [line for line in expected if line not in text]
    assert not missing, f"missing {missing} in:\n{text}"
    assert "internal error" not in text
    for diagnostic in info.value.diagnostics:
        assert diagnostic.message and diagnostic.hint, diagnostic
    assert rendered(folder) == golden.read_text(), f"{golden} differs (python tests/config/make_corpus.py rewrites it)"


def test_corpus_is_large_enough() -> None:
    assert len(STATIC) + len(DYNAMIC) >= 100


@pytest.mark.timeout(20)
@pytest.mark.parametrize("case", STATIC)
def test_static_case(case: str) -> None:
    expected = (BROKEN / case / "expected.txt").read_text().splitlines()
    assert expected, f"{case}/expected.txt is empty"
    expect_failure(BROKEN / case, expected, BROKEN / case / GOLDEN)


@pytest.mark.timeout(20)
@pytest.mark.parametrize("case", sorted(DYNAMIC))
def test_dynamic_case(case: str, tmp_path: Path) -> None:
    folder = tmp_path / case
    expected = write_dynamic(case, folder)
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    expect_failure(folder, expected, DYNAMIC_GOLDEN / f"{case}.txt")
    grown_mb = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) / 1024
    assert grown_mb < 200, f"peak memory grew by {grown_mb:.0f} MB"


def test_committed_corpus_matches_make_corpus(tmp_path: Path) -> None:
    """tests/config/broken is exactly what make_corpus.py writes (run it after editing CASES)."""
    assert sorted(CASES) == STATIC
    for name, (files, expected) in CASES.items():
        write_case(tmp_path / name, dict(files), expected)
        names = sorted(str(p.relative_to(tmp_path / name)) for p in (tmp_path / name).rglob("*") if p.is_file())
        assert sorted([*names, GOLDEN]) == sorted(str(p.relative_to(BROKEN / name))
                                                  for p in (BROKEN / name).rglob("*") if p.is_file()), name
        _, mismatch, errors = filecmp.cmpfiles(tmp_path / name, BROKEN / name, names, shallow=False)
        assert not mismatch and not errors, (name, mismatch, errors)
