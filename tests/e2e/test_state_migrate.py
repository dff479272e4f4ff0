"""Moving a team to PostgreSQL: `state migrate --to postgres` keeps everything; history, pull and push work."""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import pytest

from tests.e2e.helpers import cli

pytestmark = pytest.mark.postgres


def test_migrate_local_state_to_postgres_and_keep_working(quickstart: Path, pg_dsn: str) -> None:
    q = str(quickstart)
    assert cli("apply", q, "--auto-approve").code == 0
    local_doc = json.loads(cli("state", "pull", "--dir", q).out)
    workspace = f"team-{uuid.uuid4().hex[:8]}"
    # trust auth ignores the password, so one can be added to prove it is never shown
    env = {"TEAM_PG": pg_dsn.replace("postgres@", "postgres:s3cret-pw@", 1)}
    moved = cli("state", "migrate", "--to", "postgres", "--dsn-env", "TEAM_PG", "--workspace", workspace,
                "--dir", q, env=env)
    assert moved.code == 0, moved.err
    assert "s3cret-pw" not in moved.out + moved.err
    cfg = quickstart / "lorainfra.yaml"
    cfg.write_text(cfg.read_text().split("state:")[0]
                   + f"state:\n  backend: postgres\n  dsn_env: TEAM_PG\n  workspace: {workspace}\n")
    pulled = json.loads(cli("state", "pull", "--dir", q, env=env).out)
    assert pulled == local_doc  # nothing lost
    assert cli("plan", q, "--detailed-exitcode", env=env).code == 0
    history = cli("state", "history", "--dir", q, env=env)
    serials = [int(line.split("\t")[0]) for line in history.out.splitlines()]
    assert serials == sorted(serials) and serials[-1] == local_doc["serial"]
    # an older serial can be pulled; pushing an older serial back is refused
    older = cli("state", "pull", "--dir", q, "--serial", str(serials[0]), env=env)
    assert older.code == 0
    old_file = quickstart / "old.json"
    old_file.write_text(older.out)
    refused = cli("state", "push", str(old_file), "--dir", q, env=env)
    assert refused.code == 1 and "serial" in refused.err
    # the postgres workspace keeps working for the next apply
    dep = quickstart / "deployments.yaml"
    dep.write_text(dep.read_text().replace("replicas: {min: 1, max: 2}", "replicas: {min: 1, max: 3}"))
    assert cli("apply", q, "--auto-approve", env=env).code == 0
    assert cli("plan", q, "--detailed-exitcode", env=env).code == 0
