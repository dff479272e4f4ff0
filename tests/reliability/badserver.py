"""A hostile HTTP server for the reliability tests: a real socket on 127.0.0.1, served from a thread.

The first path segment picks the misbehaviour, so a base URL such as ``http://127.0.0.1:PORT/loop``
makes every request the provider sends (``/loop/v1/accounts/...``) meet it:

- ``redirect``: 302 to another path.
- ``empty``: 200 with an empty body; ``nameless``: 200 with ``{}``; ``notalist``: a page whose
  collection is a string.
- ``echo-plain``, ``echo-html``, ``echo-json``, ``echo-envelope``: 401 whose body repeats the
  Authorization header (plain text, an HTML page, ``{"message"}``, ``{"error": {"message"}}``).
- ``loop``: every page is the same object with the same ``nextPageToken``; ``pages``: a new token
  on every page, without end.
- ``slowloris``: headers at once, then the body one byte every ``drip`` seconds.
- ``silent``: reads the request and never answers.
- ``huge``: a 200 answer whose body goes on for ``huge_bytes``; ``huge-nolength`` the same without a
  Content-Length (the body ends when the connection closes).
- ``forbid-models``: an empty account (empty lists), but every other read (a model lookup) is refused
  with 403, as for a key that may not read models.
- ``retry-after``: 429 with ``Retry-After: <retry_after>``, then (from the ``ok_after``-th request
  on) the deployment object.

It stops by itself: on leaving the ``with`` block, or after ``lifetime`` seconds at the latest;
handlers that drip or stay silent end as soon as it stops.
"""

from __future__ import annotations

import json
import threading
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any

DEPLOYMENT = {"name": "accounts/acme/deployments/base", "baseModel": "accounts/fireworks/models/m", "state": "READY"}


class BadServer:
    def __init__(self, *, drip: float = 1.0, huge_bytes: int = 200 * 1024 * 1024, retry_after: str = "1",
                 ok_after: int = 2, lifetime: float = 120.0) -> None:
        self.drip = drip
        self.huge_bytes = huge_bytes
        self.retry_after = retry_after
        self.ok_after = ok_after
        self.lifetime = lifetime
        self.hits: Counter[str] = Counter()
        self.sent: Counter[str] = Counter()  # body bytes written, per mode
        self.stopped = threading.Event()
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self))
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self._timer = threading.Timer(lifetime, self.stop)
        self._timer.daemon = True

    @property
    def port(self) -> int:
        return int(self._server.server_address[1])

    def url(self, mode: str) -> str:
        return f"http://127.0.0.1:{self.port}/{mode}"

    def count(self, mode: str) -> int:
        with self._lock:
            return self.hits[mode]

    def __enter__(self) -> BadServer:
        self._thread.start()
        self._timer.start()
        return self

    def __exit__(self, et: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        self.stop()
        self._thread.join(timeout=10)

    def stop(self) -> None:
        if self.stopped.is_set():
            return
        self.stopped.set()
        self._timer.cancel()
        self._server.shutdown()
        self._server.server_close()


def _handler(server: BadServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: Any) -> None:  # quiet
            return

        def do_GET(self) -> None:
            self._serve()

        def do_POST(self) -> None:
            self._serve()

        def do_PATCH(self) -> None:
            self._serve()

        def do_DELETE(self) -> None:
            self._serve()

        def _serve(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            if length:
                self.rfile.read(length)
            mode = self.path.lstrip("/").split("/", 1)[0]
            with server._lock:
                server.hits[mode] += 1
                hit = server.hits[mode]
            auth = self.headers.get("Authorization", "")
            try:
                getattr(self, "mode_" + mode.replace("-", "_"), self.mode_unknown)(auth, hit)
            except (BrokenPipeError, ConnectionResetError):
                pass  # the client gave up: what a defended client does

        def _reply(self, status: int, body: bytes, content_type: str = "application/json",
                   headers: dict[str, str] | None = None) -> None:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            for key, value in (headers or {}).items():
                self.send_header(key, value)
            self.end_headers()
            self.wfile.write(body)

        def _json(self, status: int, doc: Any, headers: dict[str, str] | None = None) -> None:
            self._reply(status, json.dumps(doc).encode(), headers=headers)

        def mode_unknown(self, auth: str, hit: int) -> None:
            self._json(404, {"code": 5, "message": "unknown bad-server mode"})

        def mode_redirect(self, auth: str, hit: int) -> None:
            self._reply(302, b"", headers={"Location": "/elsewhere/v1/"})

        def mode_empty(self, auth: str, hit: int) -> None:
            self._reply(200, b"")

        def mode_nameless(self, auth: str, hit: int) -> None:
            self._json(200, {})

        def mode_notalist(self, auth: str, hit: int) -> None:
            self._json(200, {"deployments": "notalist", "deployedModels": "notalist"})

        def mode_echo_plain(self, auth: str, hit: int) -> None:
            self._reply(401, f"invalid credentials: {auth}".encode(), "text/plain")

        def mode_echo_html(self, auth: str, hit: int) -> None:
            page = f"<html><body><h1>401</h1><p>bad header {auth}</p></body></html>"
            self._reply(401, page.encode(), "text/html")

        def mode_echo_json(self, auth: str, hit: int) -> None:
            self._json(401, {"code": 16, "message": f"invalid credentials: {auth}"})

        def mode_echo_envelope(self, auth: str, hit: int) -> None:
            self._json(401, {"error": {"code": 16, "message": f"key {auth.removeprefix('Bearer ')} is revoked"}})

        def mode_loop(self, auth: str, hit: int) -> None:
            self._json(200, {"deployments": [DEPLOYMENT], "deployedModels": [], "nextPageToken": "again"})

        def mode_pages(self, auth: str, hit: int) -> None:
            self._json(200, {"deployments": [], "deployedModels": [], "nextPageToken": f"t{hit}"})

        def mode_forbid_models(self, auth: str, hit: int) -> None:
            if self.path.split("?", 1)[0].endswith(("/deployments", "/deployedModels", "/models")):
                self._json(200, {"deployments": [], "deployedModels": [], "models": []})
            else:
                self._json(403, {"code": 7, "message": "permission denied to read models"})

        def mode_retry_after(self, auth: str, hit: int) -> None:
            if hit >= server.ok_after:
                self._json(200, DEPLOYMENT)
            else:
                self._json(429, {"code": 8, "message": "slow down"}, headers={"Retry-After": server.retry_after})

        def mode_slowloris(self, auth: str, hit: int) -> None:
            body = json.dumps(DEPLOYMENT).encode() + b" " * 100_000
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            for i in range(len(body)):
                if server.stopped.wait(server.drip):
                    return
                self.wfile.write(body[i : i + 1])
                self.wfile.flush()
                with server._lock:
                    server.sent["slowloris"] += 1

        def mode_silent(self, auth: str, hit: int) -> None:
            server.stopped.wait()

        def mode_huge(self, auth: str, hit: int) -> None:
            self._huge("huge", declared=True)

        def mode_huge_nolength(self, auth: str, hit: int) -> None:
            self._huge("huge-nolength", declared=False)

        def _huge(self, mode: str, *, declared: bool) -> None:
            chunk = b"[" * 65536
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            if declared:
                self.send_header("Content-Length", str(server.huge_bytes))
            else:
                self.send_header("Connection", "close")
                self.close_connection = True
            self.end_headers()
            left = server.huge_bytes
            while left > 0 and not server.stopped.is_set():
                piece = chunk[: min(left, len(chunk))]
                self.wfile.write(piece)
                left -= len(piece)
                with server._lock:
                    server.sent[mode] += len(piece)

    return Handler
