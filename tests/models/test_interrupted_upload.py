"""A run stopped between a model's create and the end of its upload heals without user action (issue 14).

The model is left UPLOADING on the server. The next plan sees that the model it manages (or adopts from the
interrupted create) is still UPLOADING with no upload in progress, plans to upload its files again, and the
apply does so and waits for READY; the LoRA loading it follows, and the plan after that is clean. Against the
in-process emulator; the interruption is a provider-side wrapper raising at the upload step (no sleeps)."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from lorainfra.cli.context import open_workspace
from lorainfra.cli.render import render_plan
from lorainfra.engine.applier import ApplyResult
from lorainfra.engine.events import ListSink, OperationProgress
from lorainfra.engine.session import SessionOptions, apply_session
from lorainfra.errors import TransportError
from lorainfra.plan.model import Action
from lorainfra.providers.upload import Uploader
from lorainfra.state.model import ResourceState, State
from tests.e2e.test_review_loop import behind_our_back
from tests.lifecycle.test_heal import StopAt
from tests.lifecycle.test_lifecycle import ENV, FAST, actions, plan
from tests.models.adapters import BASE, write_adapter

MAIN = ("provider:\n  account: acme\n  endpoint: local\n  emulator: {ready_after: 0s, deployed_after: 0s, delete_after: 0s}\n"
        "state:\n  backend: local\n")
CONFIG = (f"deployments:\n  base:\n    base_model: {BASE}\n    accelerator: {{type: NVIDIA_H100_80GB, count: 1}}\n"
          "    replicas: {min: 1, max: 1}\n    addons: true\n"
          f"models:\n  bot:\n    base_model: {BASE}\n    files: adapters/bot\n"
          "loras:\n  bot:\n    model: model.bot\n    deployment: base\n")
MODEL = "accounts/acme/models/bot"
NOTE = "# model.bot will be created (an interrupted upload left it UPLOADING; apply uploads its files again)"


class Killed(BaseException):
    """What a process killed mid-call leaves: nothing in lorainfra catches it (no cleanup, no state edit)."""


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    (tmp_path / "lorainfra.yaml").write_text(MAIN)
    (tmp_path / "fleet.yaml").write_text(CONFIG)
    adapter = write_adapter(tmp_path / "adapters" / "bot", r=8, seed=1)
    (adapter / "extra.txt").write_text("a second file, so that an upload can stop between two files\n")
    return tmp_path


def _apply(folder: Path, sink: ListSink | None = None) -> ApplyResult:
    ws = open_workspace(str(folder), None, ENV)

    async def go() -> ApplyResult:
        async with ws.provider() as provider:
            outcome = await apply_session(ws.config, provider, ws.backend, plan_sink=ListSink(),
                                          apply_sink=lambda _: sink or ListSink(), options=SessionOptions(apply=FAST))
        assert not outcome.planned.plan.errors, outcome.planned.plan.errors
        assert outcome.result is not None
        return outcome.result

    return asyncio.run(go())


def _model_state(folder: Path) -> str:
    return str(behind_our_back(folder, "GET", f"/v1/{MODEL}").json()["state"])


def _state(folder: Path) -> State:
    state = open_workspace(str(folder), None, ENV).backend.read()
    assert state is not None
    return state


def _heals(folder: Path) -> None:
    """The plan says what it will do; the apply uploads, loads the LoRA; the plan after it is clean."""
    healing = plan(folder)
    assert not healing.plan.errors, healing.plan.errors  # today: "model ... is UPLOADING, not READY"
    assert actions(healing) == {"model.bot": Action.CREATE, "lora.bot": Action.CREATE}, actions(healing)
    change = next(c for c in healing.plan.changes if c.address == "model.bot")
    assert change.reason == "an interrupted upload left it UPLOADING; apply uploads its files again", change
    assert NOTE in render_plan(healing.plan), render_plan(healing.plan)

    healed = _apply(folder)
    assert healed.ok, (healed.failed, healed.skipped, healed.stopped)
    assert _model_state(folder) == "READY"
    state = _state(folder)
    assert set(state.resources) == {"deployment.base", "model.bot", "lora.bot"} and not state.pending
    assert state.resources["model.bot"].remote_name == MODEL
    assert not plan(folder).plan.actionable  # converged


@pytest.mark.parametrize("stop", ["before", "during"])
def test_an_interrupted_upload_heals_on_the_next_apply(folder: Path, monkeypatch: pytest.MonkeyPatch, stop: str) -> None:
    sent: list[str] = []
    real = Uploader._one

    async def one(self: Uploader, f: object, url: str, label: str) -> str:
        if stop == "before" or sent:
            raise Killed(f"killed {stop} the upload")
        sent.append(label)
        return await real(self, f, url, label)  # type: ignore[arg-type]

    with monkeypatch.context() as patch:
        patch.setattr(Uploader, "_one", one)
        first = _apply(folder)
    assert not first.ok, first
    assert ("lora.bot (create)", "model.bot") in first.skipped, first.skipped
    assert _model_state(folder) == "UPLOADING"
    assert sent == ([] if stop == "before" else ["bot/adapter_config.json"])
    assert "model.bot" in _state(folder).pending  # the create was sent; nothing recorded its outcome
    _heals(folder)


def test_a_managed_model_left_uploading_by_an_older_version_heals(folder: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A state that already records the UPLOADING model (what the pending-create reconcile wrote before this
    fix) heals the same way: the model it manages is UPLOADING and nothing uploads into it."""
    with monkeypatch.context() as patch:
        async def upload(self: Uploader, *args: object, **kwargs: object) -> str:
            raise Killed("killed before the upload")
        patch.setattr(Uploader, "upload", upload)
        _apply(folder)
    ws = open_workspace(str(folder), None, ENV)
    state = ws.backend.read()
    assert state is not None
    op = state.pending["model.bot"]
    adopted = state.without_pending("model.bot").with_resource(
        ResourceState("model.bot", op.kind, MODEL, op.attributes, op.dependencies, ""))
    ws.backend.write(adopted)
    _heals(folder)


def test_a_failed_upload_fails_the_create_instead_of_waiting_for_ready(folder: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Every attempt of a PUT failed (network gone): the create fails with that reason at once, not a wait of an
    hour for a READY that cannot come; the next apply uploads the files."""
    async def one(self: Uploader, f: object, url: str, label: str) -> str:
        raise TransportError(f"upload of {label} failed: ConnectError: network is unreachable")

    stop = asyncio.Event()
    sink = StopAt(stop, lambda e: isinstance(e, OperationProgress) and e.address == "model.bot"
                  and e.state == "UPLOADING")  # today's behaviour: stop the hour-long wait it starts
    with monkeypatch.context() as patch:
        patch.setattr(Uploader, "_one", one)
        first = _apply_with(folder, sink, stop)
    assert not stop.is_set(), "the apply waited for READY on a model whose upload failed"
    assert [a for a, _ in first.failed] == ["model.bot (create)"], first.failed
    assert "network is unreachable" in first.failed[0][1] and "UPLOADING" in first.failed[0][1], first.failed
    assert _model_state(folder) == "UPLOADING"
    _heals(folder)


def _apply_with(folder: Path, sink: StopAt, stop: asyncio.Event) -> ApplyResult:
    ws = open_workspace(str(folder), None, ENV)

    async def go() -> ApplyResult:
        async with ws.provider() as provider:
            outcome = await apply_session(ws.config, provider, ws.backend, plan_sink=ListSink(),
                                          apply_sink=lambda _: sink, options=SessionOptions(apply=FAST), stop=stop)
        assert outcome.result is not None
        return outcome.result

    return asyncio.run(go())

