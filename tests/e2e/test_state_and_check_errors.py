"""Errors that are not config errors are not reported as config errors, and never as tracebacks (issue 13
items 19 and 20): a state entry whose address lorainfra does not know, and a server check that cannot
reach the server."""

from __future__ import annotations

import json
from pathlib import Path

from tests.e2e.helpers import cli


def _add_entry(state_file: Path, address: str) -> str:
    doc = json.loads(state_file.read_text())
    first = next(iter(doc["resources"].values()))
    doc["resources"][address] = {**first, "address": address}
    state_file.write_text(json.dumps(doc))
    return str(first["remote_name"])


def test_unknown_address_in_state_is_a_state_error_with_the_fix(quickstart: Path) -> None:
    q = str(quickstart)
    assert cli("apply", q, "--auto-approve").code == 0
    remote = _add_entry(quickstart / ".lorainfra" / "state.json", "bogus.addr")
    for command in (("plan", q), ("drift", q), ("apply", q, "--auto-approve")):
        r = cli(*command)
        assert r.code == 1, (command, r)
        assert "Traceback" not in r.err
        assert "state entry 'bogus.addr'" in r.err and "lorainfra state rm bogus.addr" in r.err, r.err
        assert "in the config" not in r.err  # not a config error
    # nothing was destroyed on the strength of the bad entry: the live object it named is still there
    assert "destroy" not in cli("plan", q).out
    assert cli("state", "rm", "bogus.addr", q).code == 0
    after = cli("plan", q, "--detailed-exitcode")
    assert after.code == 0, after
    assert remote  # the entry named a live deployment, which the plan never offered to delete


def test_server_checks_that_fail_in_transport_are_not_config_errors(quickstart: Path, tmp_path: Path) -> None:
    """The plan's create checks cannot reach the server: an error about the server, not `lorainfra.yaml:1:1`."""
    from tests.reliability.badserver import BadServer  # a real HTTP server on 127.0.0.1

    with BadServer() as server:
        # the account lists (refresh) answer, the model lookups of the create checks are refused
        r = cli("plan", str(quickstart), "--endpoint", server.url("forbid-models"),
                env={"FIREWORKS_API_KEY": "test-key-123456"})
    assert r.code == 1, r
    assert "Traceback" not in r.err
    assert "in the config" not in r.err and "lorainfra.yaml:1:1" not in r.err, r.err
    assert "server" in r.err
