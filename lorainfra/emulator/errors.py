"""gRPC status codes, their HTTP mapping and the RpcError the emulator raises."""

from __future__ import annotations

from typing import Any

CODE_NAMES: dict[int, str] = {
    0: "OK",
    1: "CANCELLED",
    2: "UNKNOWN",
    3: "INVALID_ARGUMENT",
    4: "DEADLINE_EXCEEDED",
    5: "NOT_FOUND",
    6: "ALREADY_EXISTS",
    7: "PERMISSION_DENIED",
    8: "RESOURCE_EXHAUSTED",
    9: "FAILED_PRECONDITION",
    10: "ABORTED",
    11: "OUT_OF_RANGE",
    12: "UNIMPLEMENTED",
    13: "INTERNAL",
    14: "UNAVAILABLE",
    15: "DATA_LOSS",
    16: "UNAUTHENTICATED",
}

HTTP_STATUS: dict[int, int] = {
    0: 200,
    1: 499,
    2: 500,
    3: 400,
    4: 504,
    5: 404,
    6: 409,
    7: 403,
    8: 429,
    9: 400,
    10: 409,
    11: 400,
    12: 501,
    13: 500,
    14: 503,
    15: 500,
    16: 401,
}

INVALID_ARGUMENT = 3
NOT_FOUND = 5
ALREADY_EXISTS = 6
PERMISSION_DENIED = 7
RESOURCE_EXHAUSTED = 8
FAILED_PRECONDITION = 9
ABORTED = 10
INTERNAL = 13
UNIMPLEMENTED = 12
UNAVAILABLE = 14
UNAUTHENTICATED = 16

# Codes whose failure is not transient: the SDK would otherwise retry 409/429 blindly.
NO_RETRY_CODES = frozenset({ALREADY_EXISTS, RESOURCE_EXHAUSTED})


class RpcError(Exception):
    """A google.rpc.Status-shaped failure answered as JSON with the mapped HTTP status."""

    def __init__(
        self,
        code: int,
        message: str,
        *,
        reason: str | None = None,
        metadata: dict[str, str] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.reason = reason or CODE_NAMES[code]
        self.metadata = dict(metadata or {})
        self.headers = dict(headers or {})
        if code in NO_RETRY_CODES:
            self.headers.setdefault("x-should-retry", "false")

    @property
    def http_status(self) -> int:
        return HTTP_STATUS[self.code]

    def body(self) -> dict[str, Any]:
        info: dict[str, Any] = {
            "@type": "type.googleapis.com/google.rpc.ErrorInfo",
            "reason": self.reason,
            "domain": "emulator.lorainfra",
        }
        if self.metadata:
            info["metadata"] = self.metadata
        return {"code": self.code, "message": self.message, "details": [info]}


def invalid(message: str, *, field: str | None = None, reason: str = "INVALID_ARGUMENT") -> RpcError:
    return RpcError(INVALID_ARGUMENT, message, reason=reason, metadata={"field": field} if field else None)


def not_found(what: str, name: str) -> RpcError:
    return RpcError(NOT_FOUND, f"{what} {name!r} not found", reason="NOT_FOUND", metadata={"resource": name})


def already_exists(what: str, name: str) -> RpcError:
    return RpcError(ALREADY_EXISTS, f"{what} {name!r} already exists", metadata={"resource": name})


def quota_exceeded(message: str, reason: str) -> RpcError:
    """A quota (not a rate) is used up: RESOURCE_EXHAUSTED without Retry-After; retrying will not help."""
    return RpcError(RESOURCE_EXHAUSTED, message, reason=reason, metadata={"kind": "quota"})


def precondition(message: str, *, reason: str = "FAILED_PRECONDITION") -> RpcError:
    return RpcError(FAILED_PRECONDITION, message, reason=reason)
