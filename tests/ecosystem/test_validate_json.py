"""lorainfra validate --json: Terraform's shape, golden-tested; severity/address/end read when present."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import pytest

from lorainfra.config.environments import Selection
from lorainfra.config.loader import load_config
from lorainfra.config.validate_json import validate_json
from lorainfra.errors import ConfigError, Diagnostic, Span
from tests.conftest import EXAMPLES, ROOT
from tests.e2e.helpers import cli
from tests.ecosystem.goldens import check_golden

BROKEN = ROOT / "tests" / "config" / "broken"


def test_invalid_folder_golden() -> None:
    # range.filename is the file as the user named the folder (relative to the directory it ran in)
    r = cli("validate", "--json", str((BROKEN / "many-problems-many-files").relative_to(ROOT)), cwd=ROOT)
    assert r.code == 1 and r.err == ""
    check_golden("validate-many-problems.json", r.out)
    doc = json.loads(r.out)
    assert doc["valid"] is False and doc["error_count"] == len(doc["diagnostics"]) == 4


def test_valid_folder() -> None:
    r = cli("validate", "--json", str(EXAMPLES / "quickstart"))
    assert r.code == 0, r
    assert json.loads(r.out) == {"format_version": "1.0", "valid": True, "error_count": 0, "warning_count": 0,
                                 "diagnostics": []}


def test_missing_folder_has_no_range_and_no_traceback(tmp_path: Path) -> None:
    r = cli("validate", "--json", str(tmp_path / "nowhere"))
    assert r.code == 1 and "Traceback" not in r.err
    (only,) = json.loads(r.out)["diagnostics"]
    assert "range" not in only and only["summary"].startswith("no lorainfra.yaml")


def test_every_broken_config_gives_json_with_ranges() -> None:
    for folder in sorted(p for p in BROKEN.iterdir() if p.is_dir()):
        env = folder / ".env"  # the environment a corpus case runs in (tests/config/make_corpus.py)
        with pytest.raises(ConfigError) as info:
            load_config(folder, selection=Selection(env=env.read_text().strip() if env.exists() else None))
        doc = json.loads(json.dumps(validate_json(info.value.diagnostics)))
        assert doc["error_count"] >= 1 and not doc["valid"], folder.name
        for d in doc["diagnostics"]:
            if "range" in d:
                assert d["range"]["start"]["line"] >= 1 and d["range"]["start"]["column"] >= 1
                assert (d["range"]["end"]["line"], d["range"]["end"]["column"]) >= \
                    (d["range"]["start"]["line"], d["range"]["start"]["column"])


@dataclass(frozen=True, order=True)
class RicherDiagnostic(Diagnostic):
    """What Diagnostic is growing into (severity, address, end position): read with getattr defaults."""

    severity: str = "error"
    address: str = ""
    end: Span | None = None


def test_severity_address_and_end_are_used_when_diagnostics_carry_them() -> None:
    doc = validate_json([
        RicherDiagnostic(Span("d.yaml", 3, 5), "deprecated key", "rename it", severity="warning",
                         address="deployment.base", end=Span("d.yaml", 3, 12)),
    ])
    assert doc["valid"] is True and doc["error_count"] == 0 and doc["warning_count"] == 1
    assert doc["diagnostics"] == [{
        "severity": "warning", "summary": "deprecated key", "detail": "rename it", "address": "deployment.base",
        "range": {"filename": "d.yaml", "start": {"line": 3, "column": 5}, "end": {"line": 3, "column": 12}},
    }]
