"""Issue 10 item 11 for ``import`` and ``drift``: a state of another account is an error naming both, before
any request (the one rule, ``State.bound_to``, that ``plan`` uses too)."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest

from lorainfra.cli.context import open_workspace
from lorainfra.config.model import Config
from lorainfra.engine.events import ListSink
from lorainfra.engine.review import detect_drift, import_object
from lorainfra.errors import StateError
from lorainfra.state.model import State
from tests.lifecycle.test_lifecycle import ENV, apply


def switch_account(folder: Path) -> None:
    settings = folder / "lorainfra.yaml"
    settings.write_text(settings.read_text().replace("account: quickstart", "account: other-team"))


def run_against(folder: Path, action: str) -> tuple[StateError, int]:
    ws = open_workspace(str(folder), None, ENV)
    config: Config = ws.config
    state = ws.backend.read() or State.new()

    async def go() -> tuple[StateError, int]:
        async with ws.provider() as provider:
            with pytest.raises(StateError) as info:
                if action == "drift":
                    await detect_drift(config, provider, state, ListSink())
                else:
                    resource = next(r for a, r in config.resources.items() if str(a) == "deployment.sql-helper")
                    await import_object(provider, state, resource, "sql-helper")
            return info.value, provider.requests  # none may be sent

    return asyncio.run(go())


@pytest.mark.parametrize("action", ["drift", "import"])
def test_drift_and_import_refuse_a_state_of_another_account(quickstart: Path, action: str) -> None:
    result = apply(quickstart)
    assert result.ok
    if action == "import":  # something to import: the state forgets sql-helper (still live)
        ws = open_workspace(str(quickstart), None, ENV)
        state = ws.backend.read()
        assert state is not None
        ws.backend.write(state.without_resource("deployment.sql-helper"), operation="test")
    switch_account(quickstart)
    error, sent = run_against(quickstart, action)
    assert "'quickstart'" in str(error) and "'other-team'" in str(error)
    assert sent == 0


def test_import_records_the_account_in_a_new_state(quickstart: Path) -> None:
    ws = open_workspace(str(quickstart), None, ENV)
    resource = next(r for a, r in ws.config.resources.items() if str(a) == "deployment.sql-helper")
    assert apply(quickstart).ok
    fresh = State.new()

    async def go() -> State:
        async with ws.provider() as provider:
            return await import_object(provider, fresh, resource, "sql-helper")

    imported = asyncio.run(go())
    assert (imported.account, imported.endpoint) == ("quickstart", "emulator.local")
    assert json.loads(imported.dumps())["account"] == "quickstart"
