"""Error tree: every failure lorainfra reports, with source spans where a config file is to blame."""

from __future__ import annotations

from dataclasses import dataclass, field, replace


@dataclass(frozen=True, order=True)
class Span:
    """A position in a config file (1-based line and column)."""

    file: str
    line: int = 0
    col: int = 0

    def __str__(self) -> str:
        if self.line <= 0:
            return self.file
        return f"{self.file}:{self.line}:{self.col or 1}"


@dataclass(frozen=True, order=True)
class Diagnostic:
    """One problem found in the config: where, what, and what to do about it.

    ``severity`` is "error" (the config is refused) or "warning"; ``address`` names the resource
    the problem is about ("" when it is not about one); ``end`` is where the offending text ends,
    when the reader knows it (compared by nothing: two reports of one problem are one).
    """

    span: Span
    message: str
    hint: str = ""
    severity: str = "error"
    address: str = ""
    end: Span | None = field(default=None, compare=False)

    def about(self, address: str) -> Diagnostic:
        """This diagnostic, naming the resource it is about (kept if it already names one)."""
        return self if self.address else replace(self, address=address)

    def render(self) -> str:
        text = f"{self.span}: {self.severity}: {self.message}"
        if self.hint:
            text += f"\n  hint: {self.hint}"
        return text


class LorainfraError(Exception):
    """Base of every error lorainfra reports to a user (one clear message, exit 1)."""

    exit_code = 1


class ConfigError(LorainfraError):
    """The config folder is invalid; holds every diagnostic found, sorted by position."""

    def __init__(self, diagnostics: list[Diagnostic] | tuple[Diagnostic, ...]) -> None:
        self.diagnostics = tuple(sorted(diagnostics))
        super().__init__("\n".join(d.render() for d in self.diagnostics))


@dataclass
class ApiError(LorainfraError):
    """The Fireworks API (or the emulator) answered with an error status."""

    status: int
    code: int = 0
    message: str = ""
    method: str = ""
    path: str = ""
    details: list[object] = field(default_factory=list)

    def __post_init__(self) -> None:
        super().__init__(str(self))

    @property
    def retryable(self) -> bool:
        """Whether the server may still have acted (or may act if asked again): 5xx, 408, 429."""
        return self.status >= 500 or self.status in (408, 429)

    def __str__(self) -> str:
        where = f"{self.method} {self.path}: " if self.method else ""
        return f"{where}HTTP {self.status}: {self.message or 'no message'}"


class TransportError(LorainfraError):
    """The API could not be reached (connection refused, timeout...)."""


class OperationError(LorainfraError):
    """An operation on one resource failed; names the address, the operation, and (when the resource is
    declared in the config) where it is declared."""

    def __init__(self, address: str, operation: str, reason: str, span: Span | None = None) -> None:
        self.address = address
        self.operation = operation
        self.reason = reason
        self.span = span
        where = f" (declared at {span})" if span is not None else ""
        super().__init__(f"{address}: {operation} failed: {reason}{where}")


class StateError(LorainfraError):
    """The state store is unreadable, of another lineage, or was changed by another writer."""


class LockError(StateError):
    """The state lock is held by someone else."""


class StalePlanError(LorainfraError):
    """A saved plan no longer matches the state, the config or the live objects."""


class SettingsError(LorainfraError):
    """Missing or invalid settings (API key, account, endpoint)."""
