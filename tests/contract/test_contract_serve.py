"""serve() as a separate process: banner line, health check, seed file, SDK access, clean termination."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
from fireworks import Fireworks

SCRIPT = """
import sys
from lorainfra.emulator import EmulatorOptions, serve
serve(host="127.0.0.1", port=int(sys.argv[1]), db=sys.argv[2], options=EmulatorOptions(api_key="k"), seed_file=sys.argv[3])
"""


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_serve_prints_banner_and_serves_the_sdk(tmp_path: Path) -> None:
    seed = tmp_path / "seed.json"
    seed.write_text(
        '{"models": [{"name": "accounts/acme/models/seeded", "peftDetails": '
        '{"baseModel": "accounts/fireworks/models/llama-v3p1-8b-instruct", "r": 8, "targetModules": ["q_proj"]}}]}'
    )
    port, db = _free_port(), tmp_path / "served.db"
    proc = subprocess.Popen(
        [sys.executable, "-c", SCRIPT, str(port), str(db), str(seed)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        banner = proc.stdout.readline().strip()
        assert banner == f"lorainfra emulator listening on http://127.0.0.1:{port} (db {db})"
        deadline = time.monotonic() + 15
        while True:
            try:
                if httpx.get(f"http://127.0.0.1:{port}/emulator/v1/health").status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, "served emulator never became healthy"
            time.sleep(0.05)
        client = Fireworks(base_url=f"http://127.0.0.1:{port}", api_key="k", account_id="acme", max_retries=0)
        assert client.models.get("seeded").state == "READY"
        client.close()
    finally:
        proc.terminate()
        proc.wait(10)
