"""Fireworks provider: the REST control plane (paged refresh, kind-specific calls); HTTP plumbing is in http.py."""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Mapping
from datetime import datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import httpx

from lorainfra.config.model import frozen_mapping
from lorainfra.errors import ApiError, TransportError
from lorainfra.kinds.adapter_files import AdapterFile
from lorainfra.kinds.base import Request
from lorainfra.kinds.registry import KINDS, kind_of
from lorainfra.live import ModelInfo, Observed, RemoteObject
from lorainfra.providers.http import PAGE_SIZE, Expect, HttpClient, HttpLimits, HttpOptions, RetryPolicy
from lorainfra.providers.listing import Pages, list_both_ends
from lorainfra.providers.newest import list_newest
from lorainfra.providers.upload import Progress, Uploader, UploadFailed

if TYPE_CHECKING:
    from typing_extensions import Unpack  # typing.Unpack for **kwargs is Python 3.12

__all__ = ["FireworksProvider", "HttpLimits", "HttpOptions", "RetryPolicy", "local_provider"]  # the HTTP options too


class FireworksProvider:
    """Talks to ``/v1/accounts/{account}/...`` on the real service, a served emulator, or in-process."""

    def __init__(
        self,
        *,
        account: str,
        api_key: str,
        base_url: str,
        force_deletes: bool = False,
        upload_progress: Progress | None = None,
        files_root: str = "",
        **http: Unpack[HttpOptions],  # the HTTP client's own options (transport, retry, max_rps, sleep, ...)
    ) -> None:
        self.account = account
        self.files_root = files_root  # the config folder: paths of files to upload are relative to it
        self.endpoint = urlsplit(base_url).hostname or ""
        self.force_deletes = force_deletes  # destroy --force: deletes skip the server's checks (ignoreChecks)
        self._http = HttpClient(api_key=api_key, base_url=base_url, **http)
        # uploads go through the same transport, sleep and logger (to the signed URLs, not the API)
        self._uploader = Uploader(transport=http.get("transport"), sleep=http.get("sleep", asyncio.sleep),
                                  logger=http.get("logger"), progress=upload_progress)

    def congested(self) -> bool:
        return self._http.congested()

    @property
    def requests(self) -> int:
        """Requests sent so far (every attempt counts)."""
        return self._http.requests

    # ---------------------------------------------------------------- plumbing
    def _path(self, suffix: str) -> str:
        return f"/v1/accounts/{self.account}/{suffix}"

    def remote_name(self, kind: str, resource_id: str) -> str:
        return kind_of(kind).remote_name(self.account, resource_id)

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
    def listing_pages(self, kind: str) -> Pages:
        """How a refresh reads the pages of ``kind``'s collection (``providers/listing.py``)."""
        path = self._path(kind_of(kind).collection)

        async def fetch(query: Mapping[str, Any]) -> dict[str, Any]:
            page: dict[str, Any] = await self._http.request("GET", path, params=query, expect="page")
            return page

        return Pages(fetch=fetch, split=lambda page: self._http._page(page, kind_of(kind).collection, path),
                     page_size=PAGE_SIZE, max_pages=self._http._limits.max_pages, what=f"GET {path}")

    async def list_objects(self, kind: str) -> list[RemoteObject]:
        """Every object of a kind, paged, a long collection from both ends at once (``providers/listing.py``);
        each page is parsed while the requests for the next ones are in flight."""
        spec = kind_of(kind)
        return await list_both_ends(self.listing_pages(kind), spec.list_params(),
                                    lambda raw: spec.from_wire(raw, account=self.account))

    async def list_some(self, kind: str, names: frozenset[str]) -> tuple[int, list[RemoteObject]]:
        """Like ``list_objects``, but only the objects named are parsed (waiters polled by one LIST need only
        theirs): how many objects the kind has, and those of ``names`` that exist."""
        spec = kind_of(kind)
        collection = spec.collection

        def parse(raw: dict[str, Any]) -> RemoteObject | None:
            return spec.from_wire(raw, account=self.account) if raw["name"] in names else None

        listed = await self._http.list_all(self._path(collection), collection, spec.list_params(), parse=parse)
        return len(listed), [obj for obj in listed if obj is not None]

    async def list_newest(self, kind: str, names: frozenset[str], since: datetime) -> dict[str, RemoteObject] | None:
        """The objects of ``names`` (all created at or after ``since``) found by reading ``kind``'s collection newest
        first, stopping once all are seen (``providers/newest.py``); None when the server does not list in that
        order. A name missing from the answer was not seen: confirm it with ``get``."""
        spec = kind_of(kind)
        return await list_newest(self.listing_pages(kind), spec.list_params(), names, since,
                                 lambda raw: spec.from_wire(raw, account=self.account))

    async def refresh(self) -> Observed:
        before = self.requests
        listed = await asyncio.gather(*(self.list_objects(kind) for kind in KINDS))
        every = {obj.name: obj for objs in listed for obj in objs}
        objects = {name: obj for name, obj in every.items()
                   if not kind_of(obj.kind).platform_owned(obj, every, self.account)}
        return Observed(objects=frozen_mapping(objects), requests=self.requests - before)

    async def get(self, kind: str, name: str) -> RemoteObject | None:
        raw = await self._request("GET", f"/v1/{name}", ok_missing=True)
        return None if raw is None else kind_of(kind).from_wire(raw, account=self.account)

    async def find(self, kind: str, identity: Mapping[str, Any]) -> RemoteObject | None:
        spec = kind_of(kind)
        lookup = spec.lookup(identity, self.account)
        if lookup.name:
            return await self.get(kind, lookup.name)
        for raw in await self._list_all(spec.collection, {"filter": lookup.filter}):
            obj = spec.from_wire(raw, account=self.account)
            if not obj.gone and obj.key == lookup.key:
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
    async def _send(self, request: Request, *, ok_missing: bool = False, expect: Expect = "object") -> Any:
        return await self._request(request.method, f"/v1/{request.path}", params=dict(request.params) or None,
                                   json=request.body, ok_missing=ok_missing, expect=expect)

    async def create(
        self, kind: str, resource_id: str, attributes: Mapping[str, Any], *, validate_only: bool = False
    ) -> RemoteObject:
        spec = kind_of(kind)
        files = () if validate_only else spec.upload_files(attributes, self.files_root)  # read before anything is created
        try:
            raw = await self._send(spec.create_request(resource_id, attributes, account=self.account,
                                                       validate_only=validate_only))
        except ApiError as exc:
            if exc.status != 409 or not files:
                raise
            # it exists: when it still waits for its files (created by hand, or by a run that stopped before the
            # upload), upload ours; anything else is the 409 the applier resolves (adopt or refuse)
            name = spec.expected_name(spec.identity(resource_id, attributes, self.account))
            raw = await self._request("GET", f"/v1/{name}", ok_missing=True)
            if not raw or raw.get("state") != spec.upload_state:
                raise exc from None
        if files:
            name = str(raw.get("name", ""))
            try:
                raw = await self._upload(name, files, str(attributes.get("digest", "")))
            except (ApiError, TransportError) as exc:
                # not a lost answer to the create (that one was received): the object is live, waiting for files
                raise UploadFailed(f"{name} was created but its upload failed: {exc}. It is left {spec.upload_state}; "
                                   "the next plan uploads its files again") from exc
        return spec.from_wire(raw, account=self.account)

    async def _upload(self, name: str, files: tuple[AdapterFile, ...], digest: str) -> Any:
        """getUploadEndpoint with every size, PUT each file, validateUpload; the model as it is then."""
        answer = await self._request("POST", f"/v1/{name}:getUploadEndpoint",
                                     json={"filenameToSize": {f.name: str(f.size) for f in files}}, expect="any")
        sent = await self._uploader.upload(files, answer.get("filenameToSignedUrls") or {}, label=name.rpartition("/")[2])
        if digest and sent != digest:
            raise ApiError(400, message=f"the files of {name} changed since the plan was made; plan again",
                           method="PUT", path=name)
        await self._request("GET", f"/v1/{name}:validateUpload", expect="any")
        return await self._request("GET", f"/v1/{name}")

    async def update(
        self, kind: str, name: str, attributes: Mapping[str, Any], changed: tuple[str, ...]
    ) -> RemoteObject:
        spec = kind_of(kind)
        raw = await self._send(spec.update_request(name, attributes, changed, account=self.account))
        return spec.from_wire(raw, account=self.account)

    async def undelete(self, kind: str, name: str) -> RemoteObject:
        spec = kind_of(kind)
        request = spec.undelete_request(name)
        if request is None:
            raise ValueError(f"a {kind} cannot be undeleted")
        return spec.from_wire(await self._send(request), account=self.account)

    async def delete(self, kind: str, name: str) -> None:
        spec = kind_of(kind)
        request = spec.delete_request(name, force=self.force_deletes)
        try:
            await self._send(request, ok_missing=True, expect="any")
        except ApiError as exc:
            if exc.status != 400 or request == spec.delete_request(name, force=True):
                raise
            # a refused delete (FAILED_PRECONDITION) that the server's checks would let through with --force
            raise dataclasses.replace(exc, message=(
                f"{exc.message} (Fireworks refused the delete; `lorainfra destroy --force` deletes it anyway, "
                "with ignoreChecks=true, unloading whatever is on it)")) from None

    async def aclose(self) -> None:
        await self._uploader.aclose()
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
