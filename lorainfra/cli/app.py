"""App: the ``lorainfra`` command line (typer). The command registry: each command module's functions
are registered here, one line each; the modules themselves never import this one."""

from __future__ import annotations

import os
import sys
from typing import Annotated

import typer

from lorainfra import __version__
from lorainfra.cli import (
    commands,
    emulator_cmd,
    fmt_cmd,
    graph_cmd,
    output_cmd,
    probe_cmd,
    review_cmds,
    state_cmds,
)
from lorainfra.cli.options import EndpointOpt, GlobalOptions
from lorainfra.cli.runtime import console
from lorainfra.config.environments import parse_var_flags
from lorainfra.config.model import DEFAULT_MAX_RPS
from lorainfra.errors import ConfigError, LorainfraError

app = typer.Typer(
    name="lorainfra",
    help="Terraform for Fireworks AI deployments and LoRA adapters: validate, plan, apply, destroy.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=True,  # --install-completion / --show-completion (bash, zsh, fish, PowerShell)
    rich_markup_mode=None,
)


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
    env: Annotated[
        str | None, typer.Option("--env", help="The environment to use (also LORAINFRA_ENV), when lorainfra.yaml "
                                 "declares environments:.")
    ] = None,
    var: Annotated[
        list[str] | None, typer.Option("--var", help="Set a variable: NAME=VALUE (repeatable); wins over the "
                                       "environment's vars and the default.")
    ] = None,
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
    opts.env = env
    try:
        opts.vars = parse_var_flags(var)
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint="--var") from exc
    ctx.obj = opts
    if debug:
        import logging

        logging.basicConfig(level=logging.DEBUG, format="%(asctime)s %(name)s %(message)s", stream=sys.stderr)
        for noisy in ("httpx", "httpcore", "asyncio"):
            logging.getLogger(noisy).setLevel(logging.WARNING)


# the command registry: one line per command (or group of commands)
app.add_typer(emulator_cmd.emulator_app, name="emulator")
app.command()(commands.validate)
app.command()(commands.plan)
app.command()(commands.apply)
app.command()(commands.destroy)
app.command()(review_cmds.show)
app.command()(review_cmds.drift)
app.command("import")(review_cmds.import_)
app.add_typer(state_cmds.state_app, name="state")
app.command("force-unlock")(state_cmds.force_unlock)
app.command("fmt")(fmt_cmd.fmt)
app.command("graph")(graph_cmd.graph)
app.command("probe")(probe_cmd.probe)
app.command("output")(output_cmd.output)


_HOISTED = ("--env", "--var")  # global options also accepted after the command (`lorainfra plan --env prod`)


def hoist_global_options(args: list[str]) -> list[str]:
    """``args`` with every --env/--var (and its value) moved before the command, where typer reads them."""
    front: list[str] = []
    rest: list[str] = []
    index = 0
    while index < len(args):
        arg = args[index]
        if arg == "--":
            rest += args[index:]
            break
        if arg in _HOISTED and index + 1 < len(args):
            front += args[index : index + 2]
            index += 2
            continue
        (front if arg.startswith(tuple(f"{name}=" for name in _HOISTED)) else rest).append(arg)
        index += 1
    return front + rest


def main(argv: list[str] | None = None) -> None:
    """Console-script entry point: one clear message and exit 1 on any lorainfra error."""
    args = list(sys.argv[1:] if argv is None else argv)
    debug = "--debug" in args
    args = hoist_global_options(args)
    if "--no-color" in args:  # Terraform takes -no-color on every command: accept it anywhere
        args = [arg for arg in args if arg != "--no-color"]
        os.environ["NO_COLOR"] = "1"
    from lorainfra.engine.heap import fewer_collections

    try:
        with fewer_collections():
            app(args=args, standalone_mode=True)
    except ConfigError as exc:
        err = console(stderr=True)
        for d in exc.diagnostics:
            err.print(d.render(), markup=False)
        n = sum(1 for d in exc.diagnostics if d.severity == "error")
        err.print(f"{n} error{'s' if n != 1 else ''} in the config; nothing was changed.", markup=False)
        sys.exit(1)
    except LorainfraError as exc:
        if debug:
            raise
        console(stderr=True).print(f"Error: {exc}", markup=False)
        sys.exit(getattr(exc, "exit_code", 1))
    except KeyboardInterrupt:
        sys.stderr.write("Interrupted.\n")
        sys.exit(130)
