"""Runtime: running a command's async work with Ctrl-C handling, the console, and plan output."""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Awaitable, Callable
from contextlib import ExitStack
from typing import TYPE_CHECKING, TypeVar

import typer

if TYPE_CHECKING:  # rich, asyncio and the engine are imported where used: `lorainfra --help` stays fast
    import asyncio

    from rich.console import Console

    from lorainfra.engine.events import EventSink
    from lorainfra.plan.model import Plan

T = TypeVar("T")


def run_async(factory: Callable[[asyncio.Event], Awaitable[T]]) -> T:
    """Run a coroutine; first Ctrl-C sets ``stop`` (finish in-flight work), second exits at once."""
    import asyncio
    import signal

    async def main() -> T:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()

        def on_sigint() -> None:
            if stop.is_set():
                sys.stderr.write("\nInterrupted again: exiting now. State is intact.\n")
                os._exit(130)
            sys.stderr.write("\nInterrupt: starting nothing new; waiting for in-flight calls (Ctrl-C again to quit now)\n")
            stop.set()

        try:
            loop.add_signal_handler(signal.SIGINT, on_sigint)
            loop.add_signal_handler(signal.SIGTERM, on_sigint)
        except (NotImplementedError, RuntimeError):
            pass
        return await factory(stop)

    return asyncio.run(main())


def console(stderr: bool = False) -> Console:
    from rich.console import Console

    return Console(stderr=stderr, highlight=False, soft_wrap=True)


def live_sink(stack: ExitStack) -> EventSink:
    """A live table on a terminal, plain lines otherwise."""
    from lorainfra.cli.console import LiveSink, PlainSink

    if sys.stdout.isatty():
        return stack.enter_context(LiveSink(console()))
    return PlainSink(sys.stdout)


def check_format(value: str, as_json: bool) -> str:
    fmt_ = "json" if as_json else value
    if fmt_ not in ("text", "markdown", "json"):
        raise typer.BadParameter(f"{value!r}: use text, markdown or json", param_hint="--format")
    return fmt_


def emit_plan(plan_: Plan, fmt_: str) -> None:
    from lorainfra.cli.markdown import plan_markdown
    from lorainfra.cli.render import render_plan
    from lorainfra.plan.jsonplan import plan_to_json

    if fmt_ == "json":
        sys.stdout.write(json.dumps(plan_to_json(plan_), indent=2, sort_keys=True) + "\n")
    elif fmt_ == "markdown":
        sys.stdout.write(plan_markdown(plan_))
    else:
        from lorainfra.cli.colour import plan_for

        sys.stdout.write(plan_for(sys.stdout, render_plan(plan_)))
