"""WaitProgress (one event per state change, a heartbeat while a state holds) and the plain lines it gives."""

from __future__ import annotations

import io

from lorainfra.cli.console import PlainSink, waited
from lorainfra.engine.events import ListSink, OperationProgress, StillWaiting
from lorainfra.engine.progress import WaitProgress


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_a_state_is_said_once_and_a_heartbeat_comes_every_30s_while_it_holds() -> None:
    clock, sink = Clock(), ListSink()
    progress = WaitProgress(sink, "deployment.x", "wait", clock, 30.0)
    for t, state in [(0, "CREATING"), (5, "CREATING"), (29, "CREATING"), (31, "CREATING"), (45, "CREATING"),
                     (61, "CREATING"), (70, "READY")]:
        clock.now = 1000.0 + t
        assert progress.saw(state) == t
    assert sink.events == [
        OperationProgress("deployment.x", "wait", "CREATING", 0.0),
        StillWaiting("deployment.x", "wait", "CREATING", 31.0),
        StillWaiting("deployment.x", "wait", "CREATING", 61.0),
        OperationProgress("deployment.x", "wait", "READY", 70.0),
    ]


def test_a_late_poll_gives_one_heartbeat_not_a_burst_and_a_new_state_restarts_the_beat() -> None:
    clock, sink = Clock(), ListSink()
    progress = WaitProgress(sink, "lora.x", "delete", clock, 30.0)
    for t, state in [(0, "UNDEPLOYING"), (100, "UNDEPLOYING"), (101, "UNDEPLOYING"), (119, "UNDEPLOYING"),
                     (120, "UNDEPLOYING"), (125, "DEPLOYED"), (150, "DEPLOYED"), (155, "DEPLOYED")]:
        clock.now = 1000.0 + t
        progress.saw(state)
    assert [(type(e).__name__, e.elapsed) for e in sink.events if isinstance(e, OperationProgress | StillWaiting)] == [
        ("OperationProgress", 0.0), ("StillWaiting", 100.0), ("StillWaiting", 120.0),
        ("OperationProgress", 125.0), ("StillWaiting", 155.0)]


def test_plain_lines_for_a_state_and_a_heartbeat() -> None:
    out = io.StringIO()
    sink = PlainSink(out)
    sink.emit(OperationProgress("deployment.x", "wait", "CREATING", 0.4))
    sink.emit(StillWaiting("deployment.x", "wait", "CREATING", 90.7))
    sink.emit(StillWaiting("lora.y", "wait", "waiting for deployment.x", 3725.0))
    lines = [line.split(" ", 1)[1] for line in out.getvalue().splitlines()]
    assert lines == ["deployment.x: CREATING (0s)", "deployment.x: still CREATING after 1m30s",
                     "lora.y: still waiting for deployment.x after 1h2m5s"]
    assert [waited(s) for s in (0, 59.9, 60, 61, 3600)] == ["0s", "59s", "1m", "1m1s", "1h"]


def test_the_live_table_shows_the_state_and_takes_heartbeats_without_a_line() -> None:
    from rich.console import Console

    from lorainfra.cli.console import LiveSink
    from lorainfra.engine.events import OperationStarted

    out = io.StringIO()
    with LiveSink(Console(file=out, force_terminal=True, width=100)) as sink:
        sink.emit(OperationStarted("lora.y", "create"))
        sink.emit(OperationProgress("lora.y", "wait", "waiting for deployment.x", 0.0))
        sink.emit(StillWaiting("lora.y", "wait", "waiting for deployment.x", 30.0))
        assert sink.rows["lora.y"][:2] == ("create", "waiting for deployment.x")
    assert "still" not in out.getvalue()
