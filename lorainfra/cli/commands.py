"""Commands: validate, plan, apply and destroy."""

from __future__ import annotations

import asyncio
import sys
from contextlib import ExitStack
from typing import Annotated

import typer

from lorainfra.cli.app import (
    AutoApprove,
    DirArg,
    EndpointOpt,
    Parallelism,
    _console,
    _endpoint,
    app,
    run_async,
)
from lorainfra.cli.console import LiveSink, PlainSink
from lorainfra.cli.context import Workspace, open_workspace
from lorainfra.cli.render import render_plan
from lorainfra.config.loader import load_config
from lorainfra.engine.applier import Applier, ApplyOptions, ApplyResult
from lorainfra.engine.events import EventSink
from lorainfra.engine.planner import Planned, PlanOptions, make_plan
from lorainfra.errors import ConfigError
from lorainfra.state.model import State

LockTimeout = Annotated[
    str, typer.Option("--lock-timeout", help="Wait this long for the state lock (e.g. 30s, 2m).")
]


def parse_timeout(text: str) -> float:
    text = text.strip()
    units = {"s": 1.0, "m": 60.0, "h": 3600.0}
    try:
        if text and text[-1] in units:
            return float(text[:-1]) * units[text[-1]]
        return float(text or 0)
    except ValueError as exc:
        raise typer.BadParameter(f"{text!r} is not a duration like 30s or 2m") from exc


def _sink(stack: ExitStack) -> EventSink:
    if sys.stdout.isatty():
        return stack.enter_context(LiveSink(_console()))
    return PlainSink(sys.stdout)


def _read_state(ws: Workspace) -> State:
    return ws.backend.read() or State.new()


async def _plan(ws: Workspace, sink: EventSink, options: PlanOptions) -> Planned:
    async with ws.provider() as provider:
        return await make_plan(ws.config, provider, _read_state(ws), sink, options)


def _raise_plan_errors(planned: Planned) -> None:
    if planned.plan.errors:
        raise ConfigError(list(planned.plan.errors))


@app.command()
def validate(directory: DirArg = ".") -> None:
    """Check the config folder offline: schema, references, IDs, bounds. No API call."""
    config = load_config(directory)
    n = len(config.resources)
    print(f"Success! {directory}: {n} resource{'s' if n != 1 else ''} in {len(config.files)} file(s) are valid.")


@app.command()
def plan(
    ctx: typer.Context,
    directory: DirArg = ".",
    endpoint: EndpointOpt = None,
    detailed_exitcode: Annotated[
        bool, typer.Option("--detailed-exitcode", help="Exit 0 with no changes, 2 with changes, 1 on error.")
    ] = False,
    destroy: Annotated[bool, typer.Option("--destroy", help="Plan destroying everything managed.")] = False,
) -> None:
    """Show what apply would change: refresh live objects, diff them against the config."""
    ws = open_workspace(directory, _endpoint(ctx, endpoint))
    planned = run_async(lambda stop: _plan(ws, PlainSink(sys.stderr), PlanOptions(destroy=destroy)))
    _raise_plan_errors(planned)
    sys.stdout.write(render_plan(planned.plan))
    if detailed_exitcode and planned.plan.has_changes:
        raise typer.Exit(2)


def _confirm(action: str) -> None:
    if not sys.stdin.isatty():
        raise typer.BadParameter(
            f"{action} needs confirmation but there is no terminal to ask on: pass --auto-approve",
            param_hint="--auto-approve",
        )
    answer = input(f"\nDo you want to perform these actions?\n  Only 'yes' will be accepted to {action}.\n\n  Enter a value: ")
    if answer.strip() != "yes":
        print(f"\n{action.capitalize()} cancelled.")
        raise typer.Exit(1)


def _report(result: ApplyResult, verb: str) -> None:
    out = _console()
    for label, reason in result.failed:
        out.print(f"[red]Failed:[/] {label}: {reason}")
    for label, because in result.skipped:
        out.print(f"[yellow]Skipped:[/] {label}: depends on {because}, which failed")
    for label in result.not_started:
        out.print(f"[yellow]Not started:[/] {label}")
    status = "complete" if result.ok else ("interrupted" if result.interrupted else "failed")
    out.print(
        f"\n{verb} {status}! Resources: {len(result.applied)} done, {len(result.failed)} failed, "
        f"{len(result.skipped) + len(result.not_started)} skipped. State serial {result.state.serial}."
    )


def _apply(
    ctx: typer.Context, directory: str, endpoint: str | None, auto_approve: bool, parallelism: int,
    lock_timeout: str, destroy: bool,
) -> None:
    ws = open_workspace(directory, _endpoint(ctx, endpoint))
    verb = "Destroy" if destroy else "Apply"
    operation = "destroy" if destroy else "apply"
    with ws.backend.lock(operation, timeout=parse_timeout(lock_timeout)):
        async def go(stop: asyncio.Event) -> tuple[Planned, ApplyResult | None]:
            async with ws.provider() as provider:
                planned = await make_plan(ws.config, provider, _read_state(ws), PlainSink(sys.stderr),
                                          PlanOptions(destroy=destroy))
                if planned.plan.errors:
                    return planned, None
                sys.stdout.write(render_plan(planned.plan))
                if not planned.plan.has_changes and not planned.notes:
                    return planned, None
                if not auto_approve and planned.plan.has_changes:
                    await asyncio.to_thread(_confirm, operation)
                with ExitStack() as stack:
                    sink = _sink(stack)
                    applier = Applier(provider, ws.backend, planned.state, sink,
                                      ApplyOptions(parallelism=parallelism), operation=operation, stop=stop)
                    if not planned.plan.has_changes:  # only pending ops were resolved: record that
                        applier.state = ws.backend.write(planned.state, operation=operation)
                    result = await applier.run(planned.plan)
                return planned, result

        planned, result = run_async(go)
    _raise_plan_errors(planned)
    if result is None:
        return
    _report(result, verb)
    if result.interrupted:
        raise typer.Exit(130)
    if not result.ok:
        raise typer.Exit(1)


@app.command()
def apply(
    ctx: typer.Context,
    directory: DirArg = ".",
    endpoint: EndpointOpt = None,
    auto_approve: AutoApprove = False,
    parallelism: Parallelism = 10,
    lock_timeout: LockTimeout = "0s",
) -> None:
    """Make the account match the config: create, update, replace and delete in dependency order."""
    _apply(ctx, directory, endpoint, auto_approve, parallelism, lock_timeout, destroy=False)


@app.command()
def destroy(
    ctx: typer.Context,
    directory: DirArg = ".",
    endpoint: EndpointOpt = None,
    auto_approve: AutoApprove = False,
    parallelism: Parallelism = 10,
    lock_timeout: LockTimeout = "0s",
) -> None:
    """Delete everything this config manages (LoRAs unloaded before their deployments)."""
    _apply(ctx, directory, endpoint, auto_approve, parallelism, lock_timeout, destroy=True)
