"""App: the ``lorainfra`` command line (typer). Wires config, provider, state and engine together."""

from __future__ import annotations

import os
import sys
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Annotated, Any, TypeVar

import typer

from lorainfra import __version__
from lorainfra.config.model import DEFAULT_MAX_RPS
from lorainfra.errors import ConfigError, LorainfraError

if TYPE_CHECKING:  # rich and asyncio are imported where used: `lorainfra --help` stays fast
    import asyncio

    from rich.console import Console

T = TypeVar("T")

app = typer.Typer(
    name="lorainfra",
    help="Terraform for Fireworks AI deployments and LoRA adapters: validate, plan, apply, destroy.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=True,  # --install-completion / --show-completion (bash, zsh, fish, PowerShell)
    rich_markup_mode=None,
)
emulator_app = typer.Typer(help="Run the embedded Fireworks control-plane emulator.", no_args_is_help=True)
app.add_typer(emulator_app, name="emulator")

DirArg = Annotated[str, typer.Argument(help="Config folder (holds lorainfra.yaml).")]
EndpointOpt = Annotated[
    str | None,
    typer.Option("--endpoint", help="API base URL (or 'local'); overrides the config and FIREWORKS_BASE_URL."),
]
AutoApprove = Annotated[bool, typer.Option("--auto-approve", help="Apply without asking for 'yes'.")]
Parallelism = Annotated[int, typer.Option("--parallelism", min=1, max=256, help="Operations at once.")]


class GlobalOptions:
    """Per-invocation options from the top-level callback (no globals)."""

    debug: bool = False
    endpoint: str | None = None
    insecure: bool = False
    max_rps: float = DEFAULT_MAX_RPS


def _version(value: bool) -> None:
    if value:
        print(f"lorainfra {__version__}")
        raise typer.Exit(0)


@app.callback()
def root(
    ctx: typer.Context,
    endpoint: EndpointOpt = None,
    debug: Annotated[bool, typer.Option("--debug", help="Show tracebacks and HTTP traces (secrets redacted).")] = False,
    insecure: Annotated[
        bool, typer.Option("--insecure", help="Allow a plain http:// endpoint that is not on loopback.")
    ] = False,
    max_rps: Annotated[
        float, typer.Option("--max-rps", min=1.0, help="Request-rate ceiling toward the API (requests/second).")
    ] = DEFAULT_MAX_RPS,
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Print the version.")
    ] = False,
    no_color: Annotated[
        bool, typer.Option("--no-color", help="No colours (also NO_COLOR=1); accepted after the command too.")
    ] = False,
) -> None:
    if no_color:
        os.environ["NO_COLOR"] = "1"  # rich and lorainfra.cli.colour both honour it, for this whole run
    opts = GlobalOptions()
    opts.debug = debug
    opts.endpoint = endpoint
    opts.insecure = insecure
    opts.max_rps = max_rps
    ctx.obj = opts
    if debug:
        import logging

        logging.basicConfig(level=logging.DEBUG, format="%(asctime)s %(name)s %(message)s", stream=sys.stderr)
        for noisy in ("httpx", "httpcore", "asyncio"):
            logging.getLogger(noisy).setLevel(logging.WARNING)


def _opts(ctx: typer.Context) -> GlobalOptions:
    return ctx.obj if isinstance(ctx.obj, GlobalOptions) else GlobalOptions()


def _endpoint(ctx: typer.Context, flag: str | None) -> str | None:
    return flag or _opts(ctx).endpoint


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


def _console(stderr: bool = False) -> Console:
    from rich.console import Console

    return Console(stderr=stderr, highlight=False, soft_wrap=True)


# commands live in their own modules; importing registers them on ``app``
from lorainfra.cli import commands as _commands  # noqa: E402,F401
from lorainfra.cli import emulator_cmd as _emulator_cmd  # noqa: E402,F401
from lorainfra.cli import fmt_cmd as _fmt_cmd  # noqa: E402,F401
from lorainfra.cli import graph_cmd as _graph_cmd  # noqa: E402,F401
from lorainfra.cli import probe_cmd as _probe_cmd  # noqa: E402,F401
from lorainfra.cli import review_cmds as _review_cmds  # noqa: E402,F401
from lorainfra.cli import state_cmds as _state_cmds  # noqa: E402,F401


def main(argv: list[str] | None = None) -> None:
    """Console-script entry point: one clear message and exit 1 on any lorainfra error."""
    args = list(sys.argv[1:] if argv is None else argv)
    debug = "--debug" in args
    if "--no-color" in args:  # Terraform takes -no-color on every command: accept it anywhere
        args = [arg for arg in args if arg != "--no-color"]
        os.environ["NO_COLOR"] = "1"
    try:
        app(args=args, standalone_mode=True)
    except ConfigError as exc:
        err = _console(stderr=True)
        for d in exc.diagnostics:
            err.print(d.render(), markup=False)
        n = sum(1 for d in exc.diagnostics if d.severity == "error")
        err.print(f"{n} error{'s' if n != 1 else ''} in the config; nothing was changed.", markup=False)
        sys.exit(1)
    except LorainfraError as exc:
        if debug:
            raise
        _console(stderr=True).print(f"Error: {exc}", markup=False)
        sys.exit(getattr(exc, "exit_code", 1))
    except KeyboardInterrupt:
        sys.stderr.write("Interrupted.\n")
        sys.exit(130)


def ignore(*_: Any) -> None:
    return None
