"""Options: the command-line options several commands share, and the per-invocation global options.

Imports nothing of lorainfra's CLI, so every command module can import it on its own.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import TYPE_CHECKING, Annotated

import typer

from lorainfra.config.durations import parse_duration
from lorainfra.config.model import DEFAULT_MAX_RPS

if TYPE_CHECKING:
    from lorainfra.config.environments import Selection
    from lorainfra.config.model import Config

DirArg = Annotated[str, typer.Argument(help="Config folder (holds lorainfra.yaml).")]
EndpointOpt = Annotated[
    str | None,
    typer.Option("--endpoint", help="API base URL (or 'local'); overrides the config and FIREWORKS_BASE_URL."),
]
AutoApprove = Annotated[bool, typer.Option("--auto-approve", help="Apply without asking for 'yes'.")]
Parallelism = Annotated[int, typer.Option("--parallelism", min=1, max=256, help="Operations at once.")]
LockTimeout = Annotated[
    str, typer.Option("--lock-timeout", help="Wait this long for the state lock (e.g. 30s, 2m).")
]
TargetOpt = Annotated[
    list[str] | None,
    typer.Option("--target", help="Only this address (and what it depends on). Repeatable."),
]
ReplaceOpt = Annotated[
    list[str] | None, typer.Option("--replace", help="Force replacing this address. Repeatable.")
]
FormatOpt = Annotated[str, typer.Option("--format", help="text | markdown | json")]
NoAdoptOpt = Annotated[bool, typer.Option(
    "--no-adopt", help="Make adopting a live object that the state does not know an error (as lifecycle: {adopt: false} "
    "on every resource), for this run.")]


class GlobalOptions:
    """Per-invocation options from the top-level callback (no globals)."""

    debug: bool = False
    endpoint: str | None = None
    insecure: bool = False
    max_rps: float = DEFAULT_MAX_RPS
    env: str | None = None  # --env NAME
    vars: Mapping[str, str] = MappingProxyType({})  # --var NAME=VALUE


def opts(ctx: typer.Context) -> GlobalOptions:
    return ctx.obj if isinstance(ctx.obj, GlobalOptions) else GlobalOptions()


def selection(ctx: typer.Context | None, environ: Mapping[str, str]) -> Selection:
    """The environment (``--env``, else LORAINFRA_ENV) and ``--var`` values of this invocation."""
    from lorainfra.config.environments import ENV_VAR, Selection

    given = opts(ctx) if ctx is not None else GlobalOptions()
    env = given.env or environ.get(ENV_VAR, "").strip() or None
    return Selection(env=env, vars=dict(given.vars))


def load_selected(ctx: typer.Context | None, directory: str, environ: Mapping[str, str]) -> Config:
    """The config of ``directory`` for this invocation's environment and variables; messages name its files
    with ``directory`` as typed (``infra/prod/loras.yaml:11:17``)."""
    from lorainfra.config.loader import load_config, outside_links_allowed

    return load_config(directory, allow_outside_links=outside_links_allowed(environ),
                       selection=selection(ctx, environ), shown=directory)


def settings_selected(ctx: typer.Context | None, directory: str, environ: Mapping[str, str]) -> Config | None:
    """``load_selected``'s provider and state settings, from lorainfra.yaml alone (``config.loader.load_settings``:
    None when that is not enough)."""
    from lorainfra.config.loader import load_settings, outside_links_allowed

    return load_settings(directory, allow_outside_links=outside_links_allowed(environ),
                         selection=selection(ctx, environ), shown=directory)


def endpoint_of(ctx: typer.Context, flag: str | None) -> str | None:
    return flag or opts(ctx).endpoint


def parse_timeout(text: str) -> float:
    """Seconds for --lock-timeout: a duration (30s, 2m, 1h30m) or a plain number of seconds."""
    value: object = text.strip() or "0"
    try:
        value = float(str(value))
    except ValueError:
        pass
    try:
        return parse_duration(value)
    except ValueError as exc:
        raise typer.BadParameter(f"{text!r} is not a duration like 30s or 2m") from exc


def addresses(values: list[str] | None, flag: str) -> frozenset[str]:
    """Validated KIND.NAME addresses given with a repeatable flag."""
    from lorainfra.kinds.registry import parse_address

    out = set()
    for value in values or []:
        try:
            out.add(str(parse_address(value)))
        except ValueError as exc:
            raise typer.BadParameter(str(exc), param_hint=flag) from exc
    return frozenset(out)
