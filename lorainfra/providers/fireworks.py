"""Fireworks provider: the REST control plane (paged refresh, kind-specific calls); HTTP plumbing is in http.py."""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

import httpx

from lorainfra.config.model import DEFAULT_MAX_RPS, frozen_mapping
from lorainfra.providers.base import ModelInfo, Observed, RemoteObject, lora_identity
from lorainfra.providers.http import Expect, HttpClient, HttpLimits, RetryPolicy
from lorainfra.providers.wire import from_wire, to_wire

_COLLECTION = {"deployment": "deployments", "lora": "deployedModels"}


class FireworksProvider:
    """Talks to ``/v1/accounts/{account}/...`` on the real service, a served emulator, or in-process."""

    def __init__(
        self,
        *,
        account: str,
        api_key: str,
        base_url: str,
        transport: httpx.AsyncBaseTransport | None = None,
        retry: RetryPolicy | None = None,
        max_rps: float = DEFAULT_MAX_RPS,
        timeout: float = 60.0,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        rng: random.Random | None = None,
        logger: logging.Logger | None = None,
        limits: HttpLimits | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.account = account
        self._http = HttpClient(
            api_key=api_key, base_url=base_url, transport=transport, retry=retry, max_rps=max_rps, timeout=timeout,
            sleep=sleep, rng=rng, logger=logger, limits=limits, clock=clock,
        )

    @property
    def requests(self) -> int:
        """Requests sent so far (every attempt counts)."""
        return self._http.requests

    # ---------------------------------------------------------------- plumbing
    def _path(self, suffix: str) -> str:
        return f"/v1/accounts/{self.account}/{suffix}"

    def deployment_name(self, deployment_id: str) -> str:
        return f"accounts/{self.account}/deployments/{deployment_id}"

    async def _request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        json: Any = None,
        ok_missing: bool = False,
        expect: Expect = "object",
    ) -> Any:
        return await self._http.request(method, path, params=params, json=json, ok_missing=ok_missing, expect=expect)

    async def _list_all(self, collection: str, params: Mapping[str, Any] | None = None) -> list[dict[str, Any]]:
        return await self._http.list_all(self._path(collection), collection, params, parse=lambda raw: raw)

    # ---------------------------------------------------------------- reads
    async def list_objects(self, kind: str) -> list[RemoteObject]:
        """Every object of a kind, paged; each page is parsed while the request for the next one is in flight."""
        collection = _COLLECTION[kind]
        return await self._http.list_all(self._path(collection), collection,
                                         parse=lambda raw: from_wire(kind, raw, account=self.account))

    async def refresh(self) -> Observed:
        before = self.requests
        deployments, loras = await asyncio.gather(self.list_objects("deployment"), self.list_objects("lora"))
        objects = {obj.name: obj for obj in deployments}
        objects.update((obj.name, obj) for obj in loras)
        return Observed(objects=frozen_mapping(objects), requests=self.requests - before)

    async def get(self, kind: str, name: str) -> RemoteObject | None:
        raw = await self._request("GET", f"/v1/{name}", ok_missing=True)
        return None if raw is None else from_wire(kind, raw, account=self.account)

    async def find_lora(self, model: str, deployment: str, serverless: bool) -> RemoteObject | None:
        target = self.deployment_name(deployment) if deployment else ""
        filt = "serverless=true" if serverless else f'deployment="{target}"'
        wanted = (model, deployment, bool(serverless))
        for raw in await self._list_all("deployedModels", {"filter": filt}):
            obj = from_wire("lora", raw, account=self.account)
            if not obj.gone and lora_identity(obj.attributes) == wanted:
                return obj
        return None

    async def get_model(self, name: str) -> ModelInfo | None:
        raw = await self._request("GET", f"/v1/{name}", ok_missing=True)
        if raw is None:
            return None
        peft = raw.get("peftDetails") or {}
        return ModelInfo(
            name=str(raw.get("name", name)),
            kind=str(raw.get("kind", "") or ""),
            state=str(raw.get("state", "") or ""),
            base_model=str(peft.get("baseModel", "") or ""),
            supports_lora=bool(raw.get("supportsLora", False)),
            supports_serverless=bool(raw.get("supportsServerless", False)),
        )

    # ---------------------------------------------------------------- writes
    async def create(
        self, kind: str, resource_id: str, attributes: Mapping[str, Any], *, validate_only: bool = False
    ) -> RemoteObject:
        body = to_wire(kind, attributes, account=self.account)
        if kind == "deployment":
            params: dict[str, Any] = {"deploymentId": resource_id}
            if validate_only:
                params["validateOnly"] = True
            raw = await self._request("POST", self._path("deployments"), params=params, json=body)
        else:
            raw = await self._request("POST", self._path("deployedModels"), json=body)
        return from_wire(kind, raw, account=self.account)

    async def update(
        self, kind: str, name: str, attributes: Mapping[str, Any], changed: tuple[str, ...]
    ) -> RemoteObject:
        body = to_wire(kind, attributes, account=self.account, only=changed)
        if kind == "deployment" and "base_model" in attributes:
            body["baseModel"] = attributes["base_model"]  # the API requires it in every PATCH body
        params = {"updateMask": ",".join(sorted(changed))}
        raw = await self._request("PATCH", f"/v1/{name}", params=params, json=body)
        return from_wire(kind, raw, account=self.account)

    async def delete(self, kind: str, name: str) -> None:
        params = {"hard": True} if kind == "deployment" else None
        await self._request("DELETE", f"/v1/{name}", params=params, ok_missing=True, expect="any")

    async def aclose(self) -> None:
        await self._http.aclose()


def local_provider(app: Any, *, account: str, api_key: str, **kwargs: Any) -> FireworksProvider:
    """The same provider, talking in-process to an ASGI app (the embedded emulator): no server, no network."""
    return FireworksProvider(
        account=account,
        api_key=api_key,
        base_url="http://emulator.local",
        transport=httpx.ASGITransport(app=app),
        **kwargs,
    )
