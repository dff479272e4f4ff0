"""Secrets: the API key never appears in any output (--debug included), plan file, state or backup;
directRouteApiKeys is not managed and never reaches a plan or the state; state and plan files are 0600."""

from __future__ import annotations

import stat
from pathlib import Path

import httpx

from lorainfra.kinds.registry import KINDS
from tests.reliability.kit import Served, clean_env, cli, make_config, read_state

MARKER = "sk-MARKER-5c1e7a9f-do-not-leak"
ROUTE_KEY = "drk-ROUTEKEY-0b7d2e"


def test_api_key_and_route_keys_never_leak(tmp_path: Path) -> None:
    assert not any("direct_route" in a.name or "directRoute" in "".join(a.wire) for k in KINDS.values() for a in k.attributes)
    folder = make_config(tmp_path / "cfg")
    f = str(folder)
    env = clean_env(FIREWORKS_API_KEY=MARKER)
    outputs: list[str] = []
    plan_file = tmp_path / "saved.plan"

    def run(*args: str, expect: int | None = 0) -> str:
        r = cli("--debug", *args, env=env)
        outputs.extend([r.out, r.err])
        if expect is not None:
            assert r.code == expect, (args, r.out[-2000:], r.err[-2000:])
        return r.out + r.err

    with Served(tmp_path / "emu.db", "--api-key", MARKER, "--ready-after", "0.05", "--deployed-after", "0.05") as emu:
        ep = ["--endpoint", emu.url]
        # the key is really required: another key is refused
        wrong = cli("plan", f, *ep, env=clean_env(FIREWORKS_API_KEY="not-the-key"))
        assert wrong.code == 1 and "401" in wrong.out + wrong.err

        debug = run("plan", f, *ep)
        assert "GET /v1/accounts/quickstart/deployments" in debug  # the --debug HTTP trace is on
        run("plan", f, *ep, "--out", str(plan_file))
        run("show", str(plan_file))
        run("show", str(plan_file), "--json")
        run("apply", str(plan_file), *ep)
        # someone sets direct-route API keys on a managed deployment, outside lorainfra
        name = read_state(folder)["resources"]["deployment.shared-base"]["remote_name"]
        r = httpx.patch(f"{emu.url}/v1/{name}", params={"updateMask": "directRouteApiKeys"},
                        headers={"Authorization": f"Bearer {MARKER}"},
                        json={"baseModel": "accounts/fireworks/models/llama-v3p1-8b-instruct",
                              "directRouteApiKeys": [ROUTE_KEY]})
        assert r.status_code == 200 and ROUTE_KEY in r.text  # the live object really holds it
        run("plan", f, *ep, "--detailed-exitcode")  # not managed: no diff either
        run("plan", f, *ep, "--json")
        run("plan", f, *ep, "--format", "markdown")
        run("drift", f, *ep)
        run("drift", f, *ep, "--json")
        run("apply", f, *ep, "--auto-approve")
        run("state", "pull", "--dir", f)
        run("state", "list", "--dir", f)
        run("state", "show", "deployment.shared-base", "--dir", f)
        run("state", "history", "--dir", f)
        run("destroy", f, *ep, "--auto-approve")
        # errors too: an unreachable endpoint, with --debug (traceback shown)
        run("plan", f, "--endpoint", "http://127.0.0.1:9", expect=1)

    files = [plan_file, *(p for p in (folder / ".lorainfra").rglob("*") if p.is_file())]
    assert any(p.name == "state.json" for p in files) and any(".backup" in str(p) for p in files)
    for secret in (MARKER, ROUTE_KEY):
        for i, text in enumerate(outputs):
            assert secret not in text, f"output {i} leaks {secret}"
        for p in files:
            assert secret.encode() not in p.read_bytes(), f"{p} leaks {secret}"
    for p in [plan_file, folder / ".lorainfra" / "state.json", *(folder / ".lorainfra" / "state.json.backup").glob("*.json")]:
        assert stat.S_IMODE(p.stat().st_mode) == 0o600, p
    print(f"\nsecrets: {len(outputs) // 2} --debug runs, {len(files)} files checked; key and route key never present")
