"""Stopping: read-only work (refresh, plan, drift) ends at once when a stop is requested.

A first Ctrl-C or SIGTERM sets the run's stop event. While the applier works, that means "start nothing
new, let in-flight calls finish" (the applier watches the event). Before anything is written there is
nothing to finish: the refresh and the plan's checks are cancelled, and the command says so.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable
from typing import TypeVar

from lorainfra.errors import LorainfraError

T = TypeVar("T")


class StoppedBeforeChanges(LorainfraError):
    """A stop was requested while only reading; nothing was changed."""

    exit_code = 130


async def until_stopped(work: Awaitable[T], stop: asyncio.Event, what: str) -> T:
    """The result of ``work``, unless ``stop`` is set first: then ``work`` is cancelled (it must only read)."""
    task = asyncio.ensure_future(work)
    stopper = asyncio.ensure_future(stop.wait())
    try:
        done, _ = await asyncio.wait({task, stopper}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        stopper.cancel()
    if task in done:
        return task.result()
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError, Exception):
        await task
    raise StoppedBeforeChanges(f"stopped while {what}; nothing was changed")
