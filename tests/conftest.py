"""Shared fixtures: fast copies of the example config folders."""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples"


def fast_copy(src: Path, dst: Path) -> Path:
    """Copy an example folder, making the embedded emulator's waits short."""
    shutil.copytree(src, dst, ignore=shutil.ignore_patterns(".lorainfra"))
    cfg = dst / "lorainfra.yaml"
    text = cfg.read_text()
    text = re.sub(r"ready_after: \S+", "ready_after: 0.05", text)
    text = re.sub(r"deployed_after: \S+", "deployed_after: 0.05", text)
    cfg.write_text(text)
    return dst


@pytest.fixture
def quickstart(tmp_path: Path) -> Path:
    return fast_copy(EXAMPLES / "quickstart", tmp_path / "quickstart")


PG_DSN_ENV = "LORAINFRA_TEST_PG_DSN"


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):  # type: ignore[no-untyped-def]
    """Where PostgreSQL is required (CI, scripts/test), a postgres test that skips is a failure."""
    outcome = yield
    report = outcome.get_result()
    if report.skipped and os.environ.get("LORAINFRA_REQUIRE_PG") and "PostgreSQL" in str(report.longrepr):
        report.outcome = "failed"
        report.longrepr = f"postgres test skipped although LORAINFRA_REQUIRE_PG is set: {report.longrepr}"


@pytest.fixture
def pg_dsn() -> str:
    dsn = os.environ.get(PG_DSN_ENV, "")
    if not dsn:
        pytest.skip("no PostgreSQL: set LORAINFRA_TEST_PG_DSN (scripts/pg-test-server starts one)")
    return dsn
