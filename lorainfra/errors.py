"""Error tree: every failure lorainfra reports, with source spans where a config file is to blame."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from urllib.parse import unquote

REDACTED = "<redacted>"
MIN_SECRET_LENGTH = 4  # shorter "secrets" (test keys like "k") would blank out ordinary letters
_URL_PASSWORD = re.compile(r"(?P<scheme>[A-Za-z][A-Za-z0-9+.-]*://)(?P<userinfo>[^\s/@]*)@")
_DSN_PASSWORD = re.compile(r"(?i)\b(password\s*=\s*)('(?:[^'\\]|\\.)*'|\S*)")


def dsn_passwords(dsn: str) -> list[str]:
    """Passwords written in a DSN or URL, found by reading the text (so also in DSNs that no parser accepts)."""
    found: list[str] = []
    scheme = re.match(r"\s*[A-Za-z][A-Za-z0-9+.-]*://", dsn)
    if scheme:
        userinfo, at, _ = dsn[scheme.end():].rpartition("@")
        _user, colon, password = userinfo.partition(":")
        if at and colon and password:
            found += [password, unquote(password)]
    for match in _DSN_PASSWORD.finditer(dsn):
        value = match.group(2)
        if value.startswith("'"):
            value = re.sub(r"\\(.)", r"\1", value[1:-1] if value.endswith("'") and len(value) > 1 else value[1:])
        found += [value, value.split("&", 1)[0]]
    return list(dict.fromkeys(v for v in found if v))


def redact(text: str, secrets: Iterable[str] = ()) -> str:
    """``text`` without any of ``secrets`` and without URL or DSN passwords (``scheme://user:PW@``, ``password=PW``).

    The one redaction rule: applied wherever a message is built from something a server, a driver or a user
    supplied (response bodies, exception strings, URLs).
    """
    for secret in sorted({s for s in secrets if len(s) >= MIN_SECRET_LENGTH}, key=len, reverse=True):
        text = text.replace(secret, REDACTED)

    def userinfo(match: re.Match[str]) -> str:
        user, colon, _ = match.group("userinfo").partition(":")
        return f"{match.group('scheme')}{user + ':' if colon else ''}{REDACTED}@"

    text = _URL_PASSWORD.sub(userinfo, text)
    return _DSN_PASSWORD.sub(lambda m: m.group(1) + REDACTED, text)


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
    """The config folder is invalid; holds every diagnostic found (warnings too), sorted by position."""

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
    # the answer to a retry of a request whose earlier attempt failed retryably (the server may have acted on it):
    # a 409 then may be our own earlier attempt's object
    retried: bool = False

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


class ProtocolError(TransportError):
    """The server answered, but not with something usable (no object, a paging loop, a body too large).

    Like a lost answer, it leaves open whether a write was carried out; unlike one, it is not retried.
    """


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
