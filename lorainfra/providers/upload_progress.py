"""How an upload reports its progress without a terminal: a line every few seconds per file.

A display is a ``Progress`` callback, ``(label, bytes sent, size)``, called by the uploader after every
chunk (``label`` names the model and the file: ``bot-v1/adapter_model.safetensors``). The byte bar shown
on a terminal is the CLI's (``cli/upload_bar.py``); this one serves logs, CI and pipes.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Protocol

REPORT_EVERY = 5.0  # seconds between two lines about one file


class UploadDisplay(Protocol):
    """A progress callback that may hold a display open (``close`` ends it)."""

    def __call__(self, label: str, sent: int, size: int) -> None: ...

    def close(self) -> None: ...


def human_bytes(count: int) -> str:
    """1536 -> '1.5 KiB' (binary units, one decimal)."""
    value = float(count)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if value < 1024 or unit == "GiB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    raise AssertionError("unreachable")


class ProgressLines:
    """One line per file every ``every`` seconds while it is sent, and one when it is complete."""

    def __init__(self, write: Callable[[str], None], *, clock: Callable[[], float] = time.monotonic,
                 every: float = REPORT_EVERY) -> None:
        self._write = write
        self._clock = clock
        self._every = every
        self._last: dict[str, float] = {}

    def __call__(self, label: str, sent: int, size: int) -> None:
        now = self._clock()
        if sent >= size:
            self._last.pop(label, None)
            self._write(f"uploaded {label} ({human_bytes(size)})")
            return
        last = self._last.setdefault(label, now)  # the first chunk starts the clock of this file
        if now - last >= self._every:
            self._last[label] = now
            percent = 100.0 * sent / size if size else 100.0
            self._write(f"uploading {label}: {human_bytes(sent)} of {human_bytes(size)} ({percent:.0f}%)")

    def close(self) -> None:
        self._last.clear()
