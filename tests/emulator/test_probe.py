"""`lorainfra probe`: read-only by construction, all OK against the served emulator, DIFFERS when a server differs."""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from lorainfra.emulator.process import EmulatorProcess
from lorainfra.probe import PROBE_ID, MutatingRequestRefused, ReadOnlyClient, run_probe
from tests.e2e.helpers import cli

KEY = "probe-secret-key-42"
ACCOUNT = "acme"


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    tmp = tmp_path_factory.mktemp("probe")
    command = [
        sys.executable,
        "-m",
        "lorainfra",
        "emulator",
        "serve",
        "--db",
        str(tmp / "e.db"),
        "--api-key",
        KEY,
    ]
    with EmulatorProcess(
        lambda port: [*command, "--port", str(port)], log=tmp / "served.log", env={**os.environ}
    ) as emu:
        yield emu.url


class Recording(httpx.BaseTransport):
    """Every request that reaches the wire, in order."""

    def __init__(self) -> None:
        self.inner = httpx.HTTPTransport()
        self.seen: list[httpx.Request] = []

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        self.seen.append(request)
        return self.inner.handle_request(request)

    def close(self) -> None:
        self.inner.close()


def test_probe_sends_no_mutating_request(served: str) -> None:
    wire = Recording()
    report = run_probe(served, ACCOUNT, KEY, transport=wire)
    assert report.ok, report.to_json()
    assert wire.seen, "the probe sent nothing"
    for request in wire.seen:
        if request.method == "GET":
            continue
        assert request.method == "POST", request
        assert request.url.path == f"/v1/accounts/{ACCOUNT}/deployments"
        assert request.url.params["validateOnly"] == "true"
    # ... and the account is as empty as before, soft-deleted objects included.
    listing = httpx.get(
        f"{served}/v1/accounts/{ACCOUNT}/deployments",
        params={"showDeleted": "true"},
        headers={"Authorization": f"Bearer {KEY}"},
    ).json()
    assert listing["deployments"] == []


def test_read_only_client_refuses_mutations_before_the_transport() -> None:
    seen: list[httpx.Request] = []
    transport = httpx.MockTransport(lambda r: seen.append(r) or httpx.Response(200, json={}))
    with httpx.Client(base_url="http://server", transport=transport) as http:
        client = ReadOnlyClient(http, ACCOUNT)
        for method, path, params in [
            ("DELETE", client.path("deployments/x"), {}),
            ("PATCH", client.path("deployments/x"), {"validateOnly": "true"}),
            ("POST", client.path("deployments"), {}),
            ("POST", client.path("deployedModels"), {"validateOnly": "true"}),
        ]:
            with pytest.raises(MutatingRequestRefused):
                client._send(method, path, params=params)
    assert seen == []


def test_every_assumption_holds_against_the_served_emulator(served: str) -> None:
    report = run_probe(served, ACCOUNT, KEY)
    assert [(c.name, c.ok) for c in report.checks] == [
        ("auth", True),
        ("list-deployments", True),
        ("list-deployed-models", True),
        ("paging", True),
        ("error-envelope", True),
        ("base-model", True),
        ("shape-default", True),
        ("validate-only", True),
        ("required-fields", True),
        ("rate-limit-headers", True),
    ]
    assert "versions/" in report.checks[6].observed


def test_cli_json_report_without_secrets(served: str, tmp_path: Path) -> None:
    env = {"FIREWORKS_API_KEY": KEY, "FIREWORKS_ACCOUNT_ID": ACCOUNT}
    result = cli("probe", "--endpoint", served, "--json", cwd=tmp_path, env=env)
    assert result.code == 0, result.err
    doc = json.loads(result.out)
    assert doc["ok"] is True and doc["endpoint"] == served and doc["account"] == ACCOUNT
    assert KEY not in result.out + result.err
    table = cli("probe", "--endpoint", served, cwd=tmp_path, env=env)
    assert table.code == 0 and "DIFFERS" not in table.out and "All assumptions hold." in table.out
    wrong = cli("probe", "--endpoint", served, cwd=tmp_path, env={**env, "FIREWORKS_API_KEY": "wrong"})
    assert wrong.code == 1 and "DIFFERS" in wrong.out and "wrong" not in wrong.out


def test_a_server_that_differs_gets_differs_rows() -> None:
    def server(request: httpx.Request) -> httpx.Response:
        if request.method == "POST":
            return httpx.Response(200, json={"name": "x", "deploymentShape": ""})
        if request.url.path.endswith(PROBE_ID):
            return httpx.Response(404, text="not found")  # no JSON envelope
        return httpx.Response(200, json={"items": [], "nextPageToken": None})

    report = run_probe("http://server", ACCOUNT, KEY, transport=httpx.MockTransport(server))
    failed = {c.name for c in report.checks if not c.ok}
    assert {
        "list-deployments",
        "paging",
        "error-envelope",
        "base-model",
        "shape-default",
        "required-fields",
    } <= failed
    assert not report.ok and KEY not in json.dumps(report.to_json())


def test_unreachable_server_is_a_differs_row_not_a_traceback() -> None:
    def down(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused", request=request)

    report = run_probe("http://server", ACCOUNT, KEY, transport=httpx.MockTransport(down))
    assert not report.ok and "ConnectError" in report.checks[0].observed


def test_rate_limit_headers_are_reported(tmp_path: Path) -> None:
    command = [
        sys.executable,
        "-m",
        "lorainfra",
        "emulator",
        "serve",
        "--db",
        str(tmp_path / "e.db"),
        "--max-rps",
        "1000",
        "--auto-deploy-base",
    ]
    with EmulatorProcess(
        lambda port: [*command, "--port", str(port)], log=tmp_path / "served.log", env={**os.environ}
    ) as emu:
        report = run_probe(emu.url, ACCOUNT, KEY)
    assert report.ok, report.to_json()
    assert {"x-ratelimit-limit-requests", "x-ratelimit-remaining-requests"} <= set(report.rate_headers)
    assert "x-ratelimit-limit-requests" in report.checks[-1].observed


def test_a_server_echoing_the_key_does_not_leak_it_into_the_report() -> None:
    def echo(request: httpx.Request) -> httpx.Response:
        return httpx.Response(
            401, json={"code": 16, "message": f"bad key {request.headers['authorization']}"}
        )

    report = run_probe("http://server", ACCOUNT, KEY, transport=httpx.MockTransport(echo))
    assert "bad key Bearer <redacted>" in report.checks[0].observed
    assert KEY not in json.dumps(report.to_json())
