"""The upload flow's edges: signed-URL checks in the emulator, bytes on disk, retries per file."""

from __future__ import annotations

import asyncio
from pathlib import Path

import httpx

from lorainfra.kinds.adapter_files import AdapterFile
from lorainfra.providers.upload import Uploader, UploadPolicy
from tests.emulator.emukit import Api

M = "/v1/accounts/acme/models"
LORA = {"kind": "HF_PEFT_ADDON",
        "peftDetails": {"baseModel": "accounts/fireworks/models/llama-v3p1-8b-instruct", "r": 8, "targetModules": ["q_proj"]}}


def _urls(api: Api, model: str, sizes: dict[str, int]) -> dict[str, str]:
    assert api.post(M, json={"modelId": model, "model": LORA}).status_code == 200
    answer = api.post(f"{M}/{model}:getUploadEndpoint", json={"filenameToSize": {k: str(v) for k, v in sizes.items()}})
    return answer.json()["filenameToSignedUrls"]


def test_signed_url_requires_its_headers_and_exact_size(api: Api) -> None:
    urls = _urls(api, "m1", {"adapter_model.safetensors": 10})
    url = urls["adapter_model.safetensors"]
    assert api.call("PUT", url, content=b"0123456789").status_code == 403  # no X-Goog-Content-Length-Range
    assert api.put_file(url, b"01234", size=10).status_code == 400  # fewer bytes than signed
    assert api.put_file(url, b"0123456789ab", size=10).status_code == 400  # more bytes than signed
    files_dir = api.emu.store.files_dir
    assert not any(files_dir.glob("*")) if files_dir.exists() else True  # nothing kept from a refused PUT
    assert api.put_file(url, b"0123456789").status_code == 200


def test_uploaded_bytes_live_on_disk_and_go_with_the_model(api: Api) -> None:
    content = b"{" + b" " * 5000 + b"}"
    url = _urls(api, "m2", {"adapter_config.json": len(content)})["adapter_config.json"]
    assert api.put_file(url, content).status_code == 200
    blob = api.emu.store.blob("accounts/acme/models/m2", "adapter_config.json")
    assert blob.read_bytes() == content
    row = api.emu.store._conn.execute("SELECT content, sha256 FROM model_files").fetchone()
    assert row["content"] is None and len(row["sha256"]) == 64
    assert api.delete(f"{M}/m2").status_code == 200
    assert not blob.exists()


def test_a_file_is_retried_after_a_server_error(tmp_path: Path) -> None:
    path = tmp_path / "w.bin"
    path.write_bytes(b"x" * 3_000_000)  # three chunks
    seen: list[tuple[int, dict[str, str]]] = []

    async def handler(request: httpx.Request) -> httpx.Response:
        body = b"".join([chunk async for chunk in request.stream])  # type: ignore[union-attr]
        seen.append((len(body), dict(request.headers)))
        return httpx.Response(503 if len(seen) == 1 else 200)

    slept: list[float] = []

    async def sleep(seconds: float) -> None:
        slept.append(seconds)

    progress: list[int] = []

    async def go() -> str:
        up = Uploader(transport=httpx.MockTransport(handler), sleep=sleep, policy=UploadPolicy(backoff=0.5),
                      progress=lambda name, sent, size: progress.append(sent))
        try:
            return await up.upload((AdapterFile("w.bin", str(path), 3_000_000),), {"w.bin": "https://signed/w?sig=1"})
        finally:
            await up.aclose()

    digest = asyncio.run(go())
    assert [n for n, _ in seen] == [3_000_000, 3_000_000] and slept == [0.5]
    headers = seen[1][1]
    assert headers["x-goog-content-length-range"] == "3000000,3000000"
    assert headers["content-type"] == "application/octet-stream" and "authorization" not in headers
    assert progress[-1] == 3_000_000 and len(digest) == 64
