"""Console: EventSink renderers (a live rich view on a terminal, plain timestamped lines otherwise)."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import TextIO

from rich.console import Console
from rich.live import Live
from rich.markup import escape
from rich.table import Table

from lorainfra.config.durations import describe
from lorainfra.engine.events import (
    Event,
    Note,
    OperationFinished,
    OperationProgress,
    OperationSkipped,
    OperationStarted,
    RefreshDone,
    StillWaiting,
)


def waited(seconds: float) -> str:
    """Elapsed time in a progress line, in whole seconds: 0s, 45s, 1m30s, 1h2m."""
    return describe(float(int(max(seconds, 0.0))))


class PlainSink:
    """One timestamped line per event (CI logs, pipes): a line per state change, and a heartbeat line while a
    wait goes on (``deployment.x: still CREATING after 1m30s``), so a long wait is never silent."""

    def __init__(self, stream: TextIO) -> None:
        self.stream = stream

    def _line(self, text: str) -> None:
        stamp = datetime.now(UTC).strftime("%H:%M:%S")
        self.stream.write(f"{stamp} {text}\n")
        self.stream.flush()

    def emit(self, event: Event) -> None:
        if isinstance(event, RefreshDone):
            self._line(f"refreshed {event.objects} live objects with {event.requests} requests in {event.seconds:.2f}s")
        elif isinstance(event, OperationStarted):
            self._line(f"{event.address}: {event.operation} started")
        elif isinstance(event, OperationProgress):
            self._line(f"{event.address}: {event.state} ({waited(event.elapsed)})")
        elif isinstance(event, StillWaiting):
            self._line(f"{event.address}: still {event.state} after {waited(event.elapsed)}")
        elif isinstance(event, OperationFinished):
            if event.ok:
                self._line(f"{event.address}: {event.operation} complete after {event.elapsed:.1f}s")
            else:
                self._line(f"{event.address}: {event.operation} FAILED after {event.elapsed:.1f}s: {event.error}")
        elif isinstance(event, OperationSkipped):
            self._line(f"{event.address}: {event.operation} skipped ({event.because} failed)")
        elif isinstance(event, Note):
            self._line(event.message)


class LiveSink:
    """A live table of resources, their state and elapsed time (terminals; it needs no heartbeat lines)."""

    def __init__(self, console: Console) -> None:
        self.console = console
        self.rows: dict[str, tuple[str, str, float, float | None]] = {}
        self.live: Live | None = None

    def __enter__(self) -> LiveSink:
        self.live = Live(self._table(), console=self.console, refresh_per_second=4, transient=False)
        self.live.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        if self.live is not None:
            self.live.update(self._table())
            self.live.__exit__(None, None, None)

    def _table(self) -> Table:
        table = Table(box=None, show_header=True, header_style="bold")
        table.add_column("resource")
        table.add_column("operation")
        table.add_column("state")
        table.add_column("elapsed", justify="right")
        now = time.monotonic()
        for address, (op, state, started, ended) in sorted(self.rows.items()):
            elapsed = (ended or now) - started
            style = {"done": "green", "failed": "red", "skipped": "yellow"}.get(state, "cyan")
            table.add_row(address, op, f"[{style}]{state}[/]", f"{elapsed:.0f}s")
        return table

    def emit(self, event: Event) -> None:
        now = time.monotonic()
        if isinstance(event, OperationStarted):
            self.rows[event.address] = (event.operation, "started", now, None)
        elif isinstance(event, OperationProgress):
            op, _, started, ended = self.rows.get(event.address, (event.operation, "", now, None))
            self.rows[event.address] = (op, event.state, started, ended)
        elif isinstance(event, OperationFinished):
            op, _, started, _ = self.rows.get(event.address, (event.operation, "", now, None))
            self.rows[event.address] = (op, "done" if event.ok else "failed", started, now)
            if not event.ok:
                self.console.print(f"[red]{escape(event.address)}: {event.operation} failed: {escape(event.error)}[/]")
        elif isinstance(event, OperationSkipped):
            self.rows[event.address] = (event.operation, "skipped", now, now)
        elif isinstance(event, RefreshDone):
            self.console.print(f"Refreshed {event.objects} live objects ({event.requests} requests, {event.seconds:.2f}s)")
        elif isinstance(event, Note):
            self.console.print(event.message, markup=False)
        if self.live is not None:
            self.live.update(self._table())
