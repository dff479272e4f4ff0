"""The API client's connections run on asyncio streams (providers/streams.py), not anyio (issue 16).

A real socket server on 127.0.0.1: requests are answered over kept-alive connections opened by
``AsyncioBackend``, a connection the server closed while idle is replaced without an error, and a refused
or silent server gives the same errors as before.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest

from lorainfra.errors import TransportError
from lorainfra.providers.http import HttpClient, RetryPolicy
from lorainfra.providers.streams import AsyncioBackend


class Server:
    """A minimal HTTP/1.1 server: answers each GET with a deployment object; ``close_after`` answers per
    connection before it closes the connection (0: keep it open)."""

    def __init__(self, close_after: int = 0) -> None:
        self.close_after = close_after
        self.connections = 0
        self.closed = 0
        self.answered = 0
        self.attempts = 0  # the client's own count of requests sent

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        served = 0
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                path = head.split(b" ", 2)[1].decode()
                body = json.dumps({"name": path.removeprefix("/v1/")}).encode()
                writer.write(b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\n"
                             b"content-length: " + str(len(body)).encode() + b"\r\n\r\n" + body)
                await writer.drain()
                self.answered += 1
                served += 1
                if self.close_after and served >= self.close_after:
                    break
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()
            await writer.wait_closed()
            self.closed += 1


def counting_connects(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    opened: list[str] = []
    real = AsyncioBackend.connect_tcp

    async def connect_tcp(self: AsyncioBackend, host: str, port: int, *args: Any, **kwargs: Any) -> Any:
        opened.append(f"{host}:{port}")
        return await real(self, host, port, *args, **kwargs)

    monkeypatch.setattr(AsyncioBackend, "connect_tcp", connect_tcp)
    return opened


def run(server: Server, calls: int, *, between: Any = None) -> list[Any]:
    async def main() -> list[Any]:
        listening = await asyncio.start_server(server.handle, "127.0.0.1", 0)
        port = listening.sockets[0].getsockname()[1]
        client = HttpClient(api_key="k", base_url=f"http://127.0.0.1:{port}", max_rps=0)
        answers = []
        try:
            for i in range(calls):
                answers.append(await client.request("GET", f"/v1/accounts/a/deployments/d{i}"))
                if between is not None:
                    await between(server, i + 1)
        finally:
            server.attempts = client.requests
            await client.aclose()
            listening.close()
            await listening.wait_closed()
        return answers

    return asyncio.run(main())


def test_requests_go_over_one_kept_alive_asyncio_connection(monkeypatch: pytest.MonkeyPatch) -> None:
    opened = counting_connects(monkeypatch)
    server = Server()
    answers = run(server, 5)
    assert server.attempts == 5
    assert [a["name"] for a in answers] == [f"accounts/a/deployments/d{i}" for i in range(5)]
    assert len(opened) == 1 and server.connections == 1  # one connection, kept alive, opened by AsyncioBackend


def test_a_connection_the_server_closed_while_idle_is_replaced(monkeypatch: pytest.MonkeyPatch) -> None:
    opened = counting_connects(monkeypatch)
    server = Server(close_after=1)

    async def until_closed(server: Server, answered: int) -> None:
        while server.closed < answered:  # the next request is sent only once the server has closed the connection
            await asyncio.sleep(0)
        for _ in range(50):  # a few loop turns: the client's event loop reads the close (EOF) from the socket
            await asyncio.sleep(0)

    answers = run(server, 3, between=until_closed)
    assert len(answers) == 3
    assert len(opened) == 3 and server.connections == 3
    assert server.attempts == 3  # each idle, closed connection was seen as gone before use: no failed attempt


def test_a_refused_connection_is_a_transport_error() -> None:
    async def main() -> None:
        listening = await asyncio.start_server(lambda r, w: None, "127.0.0.1", 0)
        port = listening.sockets[0].getsockname()[1]
        listening.close()
        await listening.wait_closed()  # nothing listens on the port now
        client = HttpClient(api_key="k", base_url=f"http://127.0.0.1:{port}", max_rps=0,
                            retry=RetryPolicy(max_attempts=1))
        try:
            with pytest.raises(TransportError, match="ConnectError"):
                await client.request("GET", "/v1/accounts/a/deployments/d")
        finally:
            await client.aclose()

    asyncio.run(main())


def test_https_goes_over_tls_on_the_asyncio_stream(tmp_path: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """TLS (start_tls on the stream) with a certificate the client trusts through SSL_CERT_FILE; an untrusted
    certificate is refused."""
    import shutil
    import ssl
    import subprocess

    if shutil.which("openssl") is None:
        pytest.skip("openssl is needed to make a test certificate")
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=localhost",
                    "-addext", "subjectAltName=DNS:localhost", "-keyout", str(key), "-out", str(cert)],
                   check=True, capture_output=True)
    opened = counting_connects(monkeypatch)
    server = Server()

    async def main(trusted: bool) -> Any:
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(cert, key)
        listening = await asyncio.start_server(server.handle, "127.0.0.1", 0, ssl=context)
        port = listening.sockets[0].getsockname()[1]
        if trusted:
            monkeypatch.setenv("SSL_CERT_FILE", str(cert))
        else:
            monkeypatch.delenv("SSL_CERT_FILE", raising=False)
        client = HttpClient(api_key="k", base_url=f"https://localhost:{port}", max_rps=0,
                            retry=RetryPolicy(max_attempts=1))
        try:
            return await client.request("GET", "/v1/accounts/a/deployments/tls")
        finally:
            await client.aclose()
            listening.close()

    assert asyncio.run(main(trusted=True)) == {"name": "accounts/a/deployments/tls"}
    assert len(opened) == 1
    with pytest.raises(TransportError, match="CERTIFICATE_VERIFY_FAILED"):
        asyncio.run(main(trusted=False))
