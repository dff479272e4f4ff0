"""Events the engine emits while it works (the CLI renders them; the engine never prints)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True)
class RefreshDone:
    objects: int
    requests: int
    seconds: float


@dataclass(frozen=True)
class OperationStarted:
    address: str
    operation: str  # "create" | "update" | "delete" | "adopt"


@dataclass(frozen=True)
class OperationProgress:
    address: str
    operation: str
    state: str  # the live object's state, or what the operation waits for ("waiting for deployment.x")
    elapsed: float


@dataclass(frozen=True)
class StillWaiting:
    """A heartbeat: ``state`` has held since the last event about this wait (every ApplyOptions.heartbeat)."""

    address: str
    operation: str
    state: str
    elapsed: float  # since the wait began


@dataclass(frozen=True)
class OperationFinished:
    address: str
    operation: str
    ok: bool
    elapsed: float
    error: str = ""


@dataclass(frozen=True)
class OperationSkipped:
    address: str
    operation: str
    because: str


@dataclass(frozen=True)
class Note:
    """Something the user should know that is not an operation (adopted pending create...)."""

    message: str


Event = (RefreshDone | OperationStarted | OperationProgress | StillWaiting | OperationFinished | OperationSkipped
         | Note)


class EventSink(Protocol):
    def emit(self, event: Event) -> None: ...


class ListSink:
    """Keeps every event (tests, JSON output)."""

    def __init__(self) -> None:
        self.events: list[Event] = []

    def emit(self, event: Event) -> None:
        self.events.append(event)
