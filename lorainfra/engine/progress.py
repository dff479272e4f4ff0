"""Progress of one wait: one event per state change, and a heartbeat while a state holds."""

from __future__ import annotations

from collections.abc import Callable

from lorainfra.engine.events import EventSink, OperationProgress, StillWaiting


class WaitProgress:
    """What one wait has said so far (the applier calls ``saw`` after every poll).

    A state is reported once, when it is first seen; while it holds, a ``StillWaiting`` event is emitted
    every ``heartbeat`` seconds after that (a CI log is never silent for long, and never repeats itself).
    Times come from ``clock`` (injected: tests read an emulated clock); elapsed is since the wait began.
    """

    def __init__(self, sink: EventSink, address: str, operation: str, clock: Callable[[], float],
                 heartbeat: float) -> None:
        self._sink = sink
        self._address = address
        self._operation = operation
        self._clock = clock
        self._heartbeat = heartbeat
        self.started = clock()
        self._state: str | None = None
        self._due = 0.0  # when the next heartbeat is due

    def saw(self, state: str) -> float:
        """Report ``state`` if it is new, or a heartbeat if one is due; the seconds since the wait began."""
        now = self._clock()
        elapsed = now - self.started
        if state != self._state:
            self._state = state
            self._due = now + self._heartbeat
            self._sink.emit(OperationProgress(self._address, self._operation, state, elapsed))
        elif now >= self._due:
            while self._due <= now:  # a late poll skips the beats it missed rather than bunching them
                self._due += self._heartbeat
            self._sink.emit(StillWaiting(self._address, self._operation, state, elapsed))
        return elapsed
