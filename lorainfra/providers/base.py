"""Provider protocol: what the engine needs from a live account (implemented by ``providers.fireworks``)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any, Protocol

from lorainfra.live import ModelInfo, Observed, RemoteObject


class Provider(Protocol):
    """A live account, spoken to in terms of kinds (``lorainfra.kinds``) and their attributes."""

    account: str
    endpoint: str  # the API's host (recorded in the state; never a URL with credentials)

    def remote_name(self, kind: str, resource_id: str) -> str:
        """Full resource name of an object of ``kind`` with this ID in this account."""
        ...

    async def refresh(self) -> Observed:
        """Every live object of every kind in the account, read with paged LIST calls."""
        ...

    async def get(self, kind: str, name: str) -> RemoteObject | None:
        """One live object, or None when it does not exist (404)."""
        ...

    async def list_objects(self, kind: str) -> list[RemoteObject]:
        """Every live object of one kind, read with paged LIST calls."""
        ...

    async def list_some(self, kind: str, names: frozenset[str]) -> tuple[int, list[RemoteObject]]:
        """Paged LIST of one kind, parsing only the objects named: (objects of the kind, those found)."""
        ...

    def congested(self) -> bool:
        """Whether requests are queued behind the request-rate limit (a read asked now would wait its turn)."""
        ...

    async def list_newest(self, kind: str, names: frozenset[str], since: datetime) -> dict[str, RemoteObject] | None:
        """The objects named (created at or after ``since``), read newest first and stopped once all are seen;
        None when the server does not list in that order. A name missing from the answer may still exist."""
        ...

    async def find(self, kind: str, identity: Mapping[str, Any]) -> RemoteObject | None:
        """The live object with this identity (``Kind.identity``), or None."""
        ...

    async def get_model(self, name: str) -> ModelInfo | None:
        """A model's readiness and base, or None when it does not exist."""
        ...

    async def create(
        self, kind: str, resource_id: str, attributes: Mapping[str, Any], *, validate_only: bool = False
    ) -> RemoteObject:
        """Create an object (``resource_id`` is ignored when the server names it); a 409 raises ApiError."""
        ...

    async def update(
        self, kind: str, name: str, attributes: Mapping[str, Any], changed: tuple[str, ...]
    ) -> RemoteObject:
        """PATCH exactly the ``changed`` attributes (sent as updateMask)."""
        ...

    async def undelete(self, kind: str, name: str) -> RemoteObject:
        """Bring back a soft-deleted object (``Kind.undelete_request``); it then becomes ready again."""
        ...

    async def delete(self, kind: str, name: str) -> None:
        """Delete / unload an object; an object already gone counts as done."""
        ...

    async def aclose(self) -> None: ...
