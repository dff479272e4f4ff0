"""The upload display of the CLI: rich's byte progress bar on a terminal, periodic lines otherwise."""

from __future__ import annotations

from typing import IO

from rich.console import Console
from rich.progress import (
    BarColumn,
    DownloadColumn,
    TaskID,
    TextColumn,
    TimeRemainingColumn,
    TransferSpeedColumn,
)
from rich.progress import Progress as RichProgress

from lorainfra.providers.upload_progress import ProgressLines, UploadDisplay


class ProgressBar:
    """rich's byte progress bar, one row per file; shown from the first chunk until every file shown is sent."""

    def __init__(self, console: Console) -> None:
        self._console = console
        self._bar: RichProgress | None = None
        self._tasks: dict[str, TaskID] = {}
        self._done: set[str] = set()

    def __call__(self, label: str, sent: int, size: int) -> None:
        if self._bar is None:
            self._bar = RichProgress(TextColumn("uploading {task.description}"), BarColumn(), DownloadColumn(),
                                     TransferSpeedColumn(), TimeRemainingColumn(), console=self._console)
            self._bar.start()
            self._tasks, self._done = {}, set()
        if label not in self._tasks:
            self._tasks[label] = self._bar.add_task(label, total=size)
        self._bar.update(self._tasks[label], completed=sent)
        if sent >= size:
            self._done.add(label)
        else:
            self._done.discard(label)  # a retry starts the file again
        if self._done == set(self._tasks):
            self.close()

    @property
    def showing(self) -> bool:
        return self._bar is not None

    def close(self) -> None:
        if self._bar is not None:
            self._bar.stop()
            self._bar = None


def for_stream(stream: IO[str], *, force_terminal: bool | None = None) -> UploadDisplay:
    """The bar when ``stream`` is a terminal (or ``force_terminal``), periodic lines written to it otherwise."""
    console = Console(file=stream, force_terminal=force_terminal, stderr=False)
    if console.is_terminal:
        return ProgressBar(console)
    return ProgressLines(lambda line: print(line, file=stream, flush=True))
