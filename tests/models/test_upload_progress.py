"""Upload progress: periodic lines without a terminal (the log, CI, a pipe), rich's byte bar on one."""

from __future__ import annotations

import asyncio
import io
import logging
from pathlib import Path

import httpx
import pytest

from lorainfra.cli.upload_bar import ProgressBar, for_stream
from lorainfra.kinds.adapter_files import AdapterFile
from lorainfra.providers.upload import Uploader, UploadPolicy
from lorainfra.providers.upload_progress import ProgressLines, human_bytes

MIB = 1 << 20


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_lines_every_five_seconds_per_file_and_one_when_done() -> None:
    clock = Clock()
    lines: list[str] = []
    show = ProgressLines(lines.append, clock=clock)
    for second, sent in ((0, 1), (2, 2), (5, 4), (7, 5), (10.5, 8), (12, 10)):
        clock.now = second
        show("bot-v1/adapter_model.safetensors", sent * MIB, 10 * MIB)
    assert lines == ["uploading bot-v1/adapter_model.safetensors: 4.0 MiB of 10.0 MiB (40%)",
                     "uploading bot-v1/adapter_model.safetensors: 8.0 MiB of 10.0 MiB (80%)",
                     "uploaded bot-v1/adapter_model.safetensors (10.0 MiB)"]


def test_lines_keep_one_clock_per_file() -> None:
    clock = Clock()
    lines: list[str] = []
    show = ProgressLines(lines.append, clock=clock)
    show("a/w", 1, 100)
    clock.now = 4
    show("b/w", 1, 100)  # b starts its own 5 s
    clock.now = 6
    show("a/w", 50, 100)
    show("b/w", 50, 100)
    assert lines == ["uploading a/w: 50 B of 100 B (50%)"]


def test_human_bytes() -> None:
    assert [human_bytes(n) for n in (0, 1023, 1536, 5 * MIB, 3 << 30, 2048 << 30)] == [
        "0 B", "1023 B", "1.5 KiB", "5.0 MiB", "3.0 GiB", "2048.0 GiB"]


def test_a_pipe_gets_lines_and_a_terminal_gets_the_bar() -> None:
    assert isinstance(for_stream(io.StringIO()), ProgressLines)
    assert isinstance(for_stream(io.StringIO(), force_terminal=True), ProgressBar)


def test_the_bar_runs_while_files_are_sent_and_closes_when_all_are_done() -> None:
    out = io.StringIO()
    bar = for_stream(out, force_terminal=True)
    assert isinstance(bar, ProgressBar)
    bar("bot-v1/adapter_config.json", 0, 100)
    assert bar.showing
    bar("bot-v1/adapter_config.json", 100, 100)
    assert not bar.showing  # every file shown so far is sent: the bar is stopped
    bar("bot-v1/adapter_model.safetensors", 5 * MIB, 10 * MIB)
    bar("bot-v1/adapter_model.safetensors", 0, 10 * MIB)  # a retry starts again
    assert bar.showing
    bar("bot-v1/adapter_model.safetensors", 10 * MIB, 10 * MIB)
    assert not bar.showing
    bar.close()  # closing a stopped bar is harmless
    text = out.getvalue()
    assert "uploading bot-v1/adapter_model.safetensors" in text and "10.5" in text and "MB" in text, text


def test_the_uploader_logs_periodic_lines_without_a_display(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    path = tmp_path / "w.bin"
    path.write_bytes(b"x" * (3 * MIB))  # three chunks
    ticks = iter(range(6, 600, 6))  # every chunk takes 6 s

    async def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200)

    async def go() -> str:
        up = Uploader(transport=httpx.MockTransport(handler), policy=UploadPolicy(), clock=lambda: float(next(ticks)))
        try:
            return await up.upload((AdapterFile("w.bin", str(path), 3 * MIB),), {"w.bin": "https://signed/w?sig=1"},
                                   label="bot-v1")
        finally:
            await up.aclose()

    with caplog.at_level(logging.INFO, logger="lorainfra.upload"):
        asyncio.run(go())
    messages = [r.getMessage() for r in caplog.records if r.name == "lorainfra.upload"]
    assert messages == ["uploading bot-v1/w.bin: 2.0 MiB of 3.0 MiB (67%)", "uploaded bot-v1/w.bin (3.0 MiB)"], messages
