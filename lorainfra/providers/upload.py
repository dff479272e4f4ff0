"""Uploading a model's files to the signed URLs Fireworks hands out: streamed from disk, retried per file.

The flow (fireworks-ai SDK, shared/fireworks-api.md section 7): ``:getUploadEndpoint`` with every file's
size -> one signed URL per file -> PUT each file with ``Content-Type: application/octet-stream`` and
``X-Goog-Content-Length-Range: N,N`` (both covered by the signature), without Fireworks credentials ->
``:validateUpload``. A file is read in 1 MiB chunks while it is sent; it never sits in memory.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from dataclasses import dataclass

import httpx

from lorainfra.errors import ApiError, LorainfraError, TransportError
from lorainfra.kinds.adapter_files import CHUNK, AdapterFile
from lorainfra.providers.upload_progress import ProgressLines

Progress = Callable[[str, int, int], None]  # (file name, bytes sent, file size)


class UploadFailed(LorainfraError):
    """A model was created but its files could not be uploaded: it is live and waits for them (UPLOADING).

    Deliberately not an ApiError or TransportError: those say that the create's answer may have been lost,
    and the applier would adopt the object and wait for a READY that cannot come. The create's pending
    marker stays; the next plan adopts the object and uploads its files into it."""


@dataclass(frozen=True)
class UploadPolicy:
    """How hard to try one file, and how often to report progress."""

    attempts: int = 4
    backoff: float = 1.0  # seconds before the 2nd attempt, doubled each time
    timeout: float = 600.0  # per PUT, seconds without progress
    report_every: float = 5.0  # seconds between progress lines (when no display is given)


def _redacted(url: str) -> str:
    return url.split("?", 1)[0]  # the query holds the signature


async def _chunks(path: str, on_chunk: Callable[[bytes], None]) -> AsyncIterator[bytes]:
    with open(path, "rb") as fh:
        while True:
            chunk = await asyncio.to_thread(fh.read, CHUNK)
            if not chunk:
                return
            on_chunk(chunk)
            yield chunk


class Uploader:
    """PUTs files to signed URLs with its own HTTP client (a signed URL must not carry the API key)."""

    def __init__(
        self,
        *,
        transport: httpx.AsyncBaseTransport | None = None,
        policy: UploadPolicy = UploadPolicy(),
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        logger: logging.Logger | None = None,
        progress: Progress | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._policy = policy
        self._sleep = sleep
        self._log = logger or logging.getLogger("lorainfra.upload")
        # without a display: a line every report_every seconds in the log
        self._progress: Progress = progress or ProgressLines(self._log.info, clock=clock, every=policy.report_every)
        self._client = httpx.AsyncClient(transport=transport, timeout=httpx.Timeout(policy.timeout, connect=10.0),
                                         follow_redirects=False)

    async def upload(self, files: tuple[AdapterFile, ...], urls: Mapping[str, str], *, label: str = "") -> str:
        """Send every file to its URL; the sha256 digest of what was sent (same rule as ``digest_files``).

        ``label`` (the model ID) prefixes the file names given to the progress display."""
        total = hashlib.sha256()
        for f in sorted(files, key=lambda f: f.name):
            url = urls.get(f.name)
            if not url:
                raise ApiError(500, message=f"getUploadEndpoint returned no URL for {f.name}")
            total.update(f"{f.name}\0{f.size}\0".encode())
            total.update(bytes.fromhex(await self._one(f, url, f"{label}/{f.name}" if label else f.name)))
        return total.hexdigest()

    async def _one(self, f: AdapterFile, url: str, label: str) -> str:
        """Upload one file with retries; the sha256 state of its bytes as sent, as hex of a sub-digest."""
        policy = self._policy
        for attempt in range(1, policy.attempts + 1):
            try:
                return await self._put(f, url, label)
            except (httpx.TransportError, ApiError) as exc:
                retryable = isinstance(exc, httpx.TransportError) or exc.status >= 500 or exc.status in (408, 429)
                if not retryable or attempt == policy.attempts:
                    if isinstance(exc, ApiError):
                        raise
                    raise TransportError(f"upload of {f.name} to {_redacted(url)} failed: {type(exc).__name__}: {exc}") from exc
                delay = policy.backoff * 2 ** (attempt - 1)
                self._log.warning("upload of %s failed (%s); attempt %d of %d in %.0fs",
                                  f.name, exc, attempt + 1, policy.attempts, delay)
                await self._sleep(delay)
        raise AssertionError("unreachable")

    async def _put(self, f: AdapterFile, url: str, label: str) -> str:
        digest = hashlib.sha256()
        sent = 0

        def on_chunk(chunk: bytes) -> None:
            nonlocal sent
            digest.update(chunk)
            sent += len(chunk)
            self._progress(label, sent, f.size)

        headers = {"Content-Type": "application/octet-stream", "Content-Length": str(f.size),
                   "X-Goog-Content-Length-Range": f"{f.size},{f.size}"}
        response = await self._client.put(url, content=_chunks(f.path, on_chunk), headers=headers)
        if response.status_code >= 400:
            raise ApiError(response.status_code, message=f"upload of {f.name} refused: HTTP {response.status_code} "
                           f"{response.text[:300]}", method="PUT", path=_redacted(url))
        if sent != f.size:
            raise ApiError(400, message=f"{f.name} changed while it was uploaded ({sent} bytes read, {f.size} expected)")
        return digest.hexdigest()

    async def aclose(self) -> None:
        await self._client.aclose()
