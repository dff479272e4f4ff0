"""Helpers for direct emulator tests: an injected clock and a sync client over httpx.ASGITransport."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import httpx

from lorainfra.emulator import Emulator

T0 = 1_750_000_000.0
ACCOUNT = "acme"
LLAMA = "accounts/fireworks/models/llama-v3p1-8b-instruct"
GLM = "accounts/fireworks/models/glm-5p3-flash"
SUPPORT_BOT = "accounts/quickstart/models/support-bot-v3"
FAQ_BOT = "accounts/quickstart/models/faq-bot-v1"
SQL_HELPER = "accounts/quickstart/models/sql-helper-v2"
SUMMARIZER = "accounts/quickstart/models/summarizer-v1"
MULTI_LORA_SHAPE = "accounts/fireworks/deploymentShapes/llama-v3p1-8b-instruct-multi-lora"


class FakeClock:
    """A manually advanced wall clock (the emulator adds its persisted offset on top)."""

    def __init__(self, t: float = T0) -> None:
        self.t = t

    def __call__(self) -> float:
        return self.t

    def tick(self, seconds: float) -> None:
        self.t += seconds


class Api:
    """Synchronous facade over an httpx.AsyncClient bound to the emulator's ASGI app."""

    def __init__(self, emu: Emulator, token: str | None = "test-key") -> None:
        self.emu = emu
        self.loop = asyncio.new_event_loop()
        headers = {"Authorization": f"Bearer {token}"} if token is not None else {}
        self.client = httpx.AsyncClient(
            transport=httpx.ASGITransport(app=emu.app), base_url="http://emulator", headers=headers
        )

    def call(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        params = kwargs.pop("params", None)
        if params:
            params = {k: ("true" if v is True else "false" if v is False else v) for k, v in params.items()}
        return self.loop.run_until_complete(self.client.request(method, path, params=params, **kwargs))

    def put_file(self, url: str, content: bytes, *, size: int | None = None) -> httpx.Response:
        """PUT to a signed upload URL with the headers the signature covers (size defaults to the content's)."""
        n = len(content) if size is None else size
        headers = {"Content-Type": "application/octet-stream", "X-Goog-Content-Length-Range": f"{n},{n}"}
        return self.call("PUT", url, content=content, headers=headers)

    def get(self, path: str, **kw: Any) -> httpx.Response:
        return self.call("GET", path, **kw)

    def post(self, path: str, **kw: Any) -> httpx.Response:
        return self.call("POST", path, **kw)

    def patch(self, path: str, **kw: Any) -> httpx.Response:
        return self.call("PATCH", path, **kw)

    def delete(self, path: str, **kw: Any) -> httpx.Response:
        return self.call("DELETE", path, **kw)

    def close(self) -> None:
        self.loop.run_until_complete(self.client.aclose())
        self.loop.close()

    # conveniences -------------------------------------------------------------------------------------
    def create_deployment(self, dep_id: str, **fields: Any) -> httpx.Response:
        params = fields.pop("_params", None) or {}
        body = {"baseModel": LLAMA, "deploymentShape": MULTI_LORA_SHAPE, "enableAddons": True, **fields}
        body = {k: v for k, v in body.items() if v is not None}
        return self.post(
            f"/v1/accounts/{ACCOUNT}/deployments", params={"deploymentId": dep_id, **params}, json=body
        )

    def deployment(self, dep_id: str) -> httpx.Response:
        return self.get(f"/v1/accounts/{ACCOUNT}/deployments/{dep_id}")

    def load(self, model: str, dep_id: str | None = None, **fields: Any) -> httpx.Response:
        body: dict[str, Any] = {"model": model, **fields}
        if dep_id:
            body["deployment"] = f"accounts/{ACCOUNT}/deployments/{dep_id}"
        params = body.pop("_params", None)
        return self.post(f"/v1/accounts/{ACCOUNT}/deployedModels", json=body, params=params)


def assert_rpc_error(resp: httpx.Response, code: int, status: int, *, contains: str = "") -> dict[str, Any]:
    assert resp.status_code == status, resp.text
    body = resp.json()
    assert set(body) == {"code", "message", "details"}, body
    assert body["code"] == code, body
    assert isinstance(body["message"], str) and body["message"]
    assert isinstance(body["details"], list)
    for detail in body["details"]:
        assert detail["@type"] == "type.googleapis.com/google.rpc.ErrorInfo"
    if contains:
        assert contains.lower() in body["message"].lower(), body["message"]
    return body


def ready_deployment(api: Api, clock: FakeClock, dep_id: str = "base", **fields: Any) -> dict[str, Any]:
    resp = api.create_deployment(dep_id, **fields)
    assert resp.status_code == 200, resp.text
    clock.tick(api.emu.options.ready_after + 0.01)
    data = api.deployment(dep_id).json()
    assert data["state"] == "READY", data
    return data


MakeApi = Callable[..., Api]
