"""Progress on CI logs (issue 12 point 10): the plain (non-TTY) lines of an apply against the in-process
emulator whose objects take emulated minutes to become ready.

No test here sleeps: the applier's clock is the emulator's clock, and every reading of it moves the
emulated time on by a few seconds, so a wait of minutes passes in a few dozen polls."""

from __future__ import annotations

import asyncio
import io
import json
import re
from pathlib import Path

from lorainfra.cli.console import PlainSink
from lorainfra.cli.context import open_workspace
from lorainfra.emulator import Emulator
from lorainfra.engine.applier import ApplyOptions
from lorainfra.engine.events import ListSink
from lorainfra.engine.session import SessionOptions, apply_session
from tests.lifecycle.test_lifecycle import ENV, apply

STEP = 5.0  # emulated seconds per reading of the applier's clock
LINE = re.compile(r"^\d\d:\d\d:\d\d (\S+): (.*)$")


class EmulatedClock:
    """The emulator's clock, moved on by ``step`` seconds at each reading."""

    def __init__(self, folder: Path, step: float = STEP) -> None:
        self.db = folder / ".lorainfra" / "emulator.db"
        self.step = step
        self.emulator: Emulator | None = None

    def __call__(self) -> float:
        if self.emulator is None:  # the workspace created the database when it opened the provider
            self.emulator = Emulator(self.db)
        self.emulator.advance(self.step)
        return self.emulator.now()

    def close(self) -> None:
        if self.emulator is not None:
            self.emulator.close()


def slow_emulator(folder: Path, **after: str) -> None:
    cfg = folder / "lorainfra.yaml"
    text = cfg.read_text()
    for key, value in after.items():
        text = re.sub(rf"{key}: \S+", f"{key}: {value}", text) if f"{key}:" in text else text.replace(
            "  emulator:\n", f"  emulator:\n    {key}: {value}\n")
    cfg.write_text(text)


def logged_apply(folder: Path) -> list[tuple[str, str]]:
    """Apply with the plain sink a CI log gets; the (address, message) of every line it wrote."""
    out = io.StringIO()
    clock = EmulatedClock(folder)
    ws = open_workspace(str(folder), None, ENV)

    async def go() -> None:
        async with ws.provider() as provider:
            outcome = await apply_session(
                ws.config, provider, ws.backend, plan_sink=ListSink(), apply_sink=lambda _: PlainSink(out),
                options=SessionOptions(apply=ApplyOptions(poll_min=0.001, poll_max=0.01, clock=clock)))
            assert outcome.result is not None and outcome.result.ok, outcome

    try:
        asyncio.run(go())
    finally:
        clock.close()
    lines = []
    for text in out.getvalue().splitlines():
        match = LINE.match(text)
        assert match, text
        lines.append((match[1], match[2]))
    return lines


def said(lines: list[tuple[str, str]], address: str) -> list[str]:
    return [message for a, message in lines if a == address]


def seconds(text: str) -> int:
    m = re.fullmatch(r"(?:(\d+)m)?(\d+)s", text)
    assert m, text
    return int(m[1] or 0) * 60 + int(m[2])


def test_point10_a_long_create_logs_a_heartbeat_every_30s(quickstart: Path) -> None:
    slow_emulator(quickstart, ready_after="150s", deployed_after="20s")
    lines = logged_apply(quickstart)
    base = said(lines, "deployment.shared-base")
    assert base[0] == "create started" and base[1].startswith("CREATING ("), base
    beats = [seconds(m.group(1)) for m in (re.fullmatch(r"still CREATING after (\S+)", s) for s in base) if m]
    first = seconds(base[1][len("CREATING ("):-1])
    # 150 emulated seconds of CREATING: the k-th heartbeat comes at the first poll 30k seconds or more after
    # CREATING was first seen (one per 30 s window: polls come every few seconds)
    assert len(beats) >= 4, base
    assert [(beat - first) // 30 for beat in beats] == list(range(1, len(beats) + 1)), (first, beats)
    assert re.fullmatch(r"READY \((2m\d+s)\)", base[-2]) and base[-1].startswith("create complete after"), base
    # a LoRA waiting on its deployment's own step says nothing until its own create starts
    faq = said(lines, "lora.faq-bot")
    assert faq[0] == "create started" and faq[1].startswith("DEPLOYING ("), faq


def test_point10_each_state_is_logged_once_and_a_lora_is_never_ready(quickstart: Path) -> None:
    seed = quickstart / "models.json"
    seed.write_text(json.dumps({"models": [
        {"name": "accounts/quickstart/models/faq-bot-v2", "kind": "HF_PEFT_ADDON", "state": "READY",
         "peftDetails": {"baseModel": "accounts/fireworks/models/llama-v3p1-8b-instruct", "r": 8,
                         "targetModules": ["q_proj", "v_proj"]}}]}))
    slow_emulator(quickstart, seed="models.json")
    assert apply(quickstart).ok
    slow_emulator(quickstart, deployed_after="40s", delete_after="40s")
    loras = quickstart / "loras.yaml"
    loras.write_text(loras.read_text().replace("faq-bot-v1", "faq-bot-v2"))
    lines = logged_apply(quickstart)
    faq = said(lines, "lora.faq-bot")
    states = [m.split(" (")[0] for m in faq if re.fullmatch(r"[A-Z_]+ \(\S+\)", m)]
    # the new copy loads (create before destroy), then the old one is unloaded: each state said once
    assert states == ["DEPLOYING", "DEPLOYED", "UNDEPLOYING"], faq
    assert not any("READY" in m for m in faq), faq
    beats = [re.fullmatch(r"still ([A-Z]+) after (\S+)", m) for m in faq if m.startswith("still ")]
    # 40 emulated seconds in each state: one heartbeat each, 30 s or more after the wait began
    assert [(m[1], seconds(m[2]) >= 30) for m in beats if m] == [("DEPLOYING", True), ("UNDEPLOYING", True)], faq


def test_point10_a_lora_waiting_for_a_deployment_outside_the_run_says_what_it_waits_for(quickstart: Path) -> None:
    assert apply(quickstart).ok
    # the deployment is rolled out again outside lorainfra (UPDATING for a while); a new LoRA waits for it
    slow_emulator(quickstart, ready_after="100s")
    ws = open_workspace(str(quickstart), None, ENV)

    async def touch() -> None:
        async with ws.provider() as provider:
            name = "accounts/quickstart/deployments/shared-base"
            updated = await provider.update("deployment", name, {"description": "tuned by hand"}, ("description",))
            assert updated.state == "UPDATING"

    asyncio.run(touch())
    loras = quickstart / "loras.yaml"
    loras.write_text(loras.read_text() + "  extra:\n    model: accounts/quickstart/models/sql-helper-v2\n"
                     "    deployment: shared-base\n")
    lines = logged_apply(quickstart)
    extra = said(lines, "lora.extra")
    assert extra[0] == "create started" and extra[1].startswith("waiting for deployment.shared-base ("), extra
    assert any(m.startswith("still waiting for deployment.shared-base after ") for m in extra), extra
    assert not any("READY" in m or "UPDATING" in m for m in extra), extra
