"""Commands: validate, plan, apply and destroy."""

from __future__ import annotations

import json
import sys
from contextlib import ExitStack
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from lorainfra.addresses import Address
from lorainfra.cli.app import (
    AutoApprove,
    DirArg,
    EndpointOpt,
    Parallelism,
    _console,
    _endpoint,
    _opts,
    app,
    run_async,
)
from lorainfra.errors import ConfigError, Diagnostic, LorainfraError

# Heavy modules (httpx, jsonschema, networkx, rich, the engine) are imported inside the commands that
# need them, so that `lorainfra --help` and command-line errors stay fast (docs/performance.md).
if TYPE_CHECKING:
    import asyncio

    from lorainfra.cli.context import Workspace
    from lorainfra.engine.applier import ApplyResult
    from lorainfra.engine.events import EventSink
    from lorainfra.engine.planner import Planned, PlanOptions
    from lorainfra.plan.model import Plan
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
    from lorainfra.cli.console import LiveSink, PlainSink

    if sys.stdout.isatty():
        return stack.enter_context(LiveSink(_console()))
    return PlainSink(sys.stdout)


def _read_state(ws: Workspace) -> State:
    from lorainfra.state.model import State

    return ws.backend.read() or State.new()


async def _plan(ws: Workspace, sink: EventSink, options: PlanOptions) -> Planned:
    from lorainfra.engine.planner import make_plan

    async with ws.provider() as provider:
        return await make_plan(ws.config, provider, _read_state(ws), sink, options)


def _raise_plan_errors(planned: Planned) -> None:
    if planned.plan.errors:
        raise ConfigError(list(planned.plan.errors))


@app.command()
def validate(
    directory: DirArg = ".",
    as_json: Annotated[bool, typer.Option("--json", help="Print the result as JSON (terraform validate -json's shape).")] = False,
) -> None:
    """Check the config folder offline: schema, references, IDs, bounds. No API call."""
    import os

    from lorainfra.cli.context import print_warnings
    from lorainfra.config.loader import load_config, outside_links_allowed

    allow = outside_links_allowed(os.environ)
    if as_json:
        from lorainfra.config.validate_json import validate_json

        diagnostics: list[Diagnostic] = []
        try:
            diagnostics = list(load_config(directory, allow_outside_links=allow).warnings)
        except ConfigError as exc:
            diagnostics = list(exc.diagnostics)
        report = validate_json(diagnostics)
        sys.stdout.write(json.dumps(report, indent=2) + "\n")
        raise typer.Exit(0 if report["valid"] else 1)
    config = load_config(directory, allow_outside_links=allow)
    print_warnings(config)
    n = len(config.resources)
    print(f"Success! {directory}: {n} resource{'s' if n != 1 else ''} in {len(config.files)} file(s) are valid.")


TargetOpt = Annotated[
    list[str] | None,
    typer.Option("--target", help="Only this address (and what it depends on). Repeatable."),
]
ReplaceOpt = Annotated[
    list[str] | None, typer.Option("--replace", help="Force replacing this address. Repeatable.")
]
FormatOpt = Annotated[str, typer.Option("--format", help="text | markdown | json")]


def _addresses(values: list[str] | None, flag: str) -> frozenset[str]:
    out = set()
    for value in values or []:
        try:
            out.add(str(Address.parse(value)))
        except ValueError as exc:
            raise typer.BadParameter(str(exc), param_hint=flag) from exc
    return frozenset(out)


def _options(destroy: bool, target: list[str] | None, replace: list[str] | None) -> PlanOptions:
    from lorainfra.engine.planner import PlanOptions

    return PlanOptions(destroy=destroy, targets=_addresses(target, "--target"),
                       replace=_addresses(replace, "--replace"))


def _emit_plan(plan_: Plan, fmt_: str) -> None:
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


def _check_format(value: str, as_json: bool) -> str:
    fmt_ = "json" if as_json else value
    if fmt_ not in ("text", "markdown", "json"):
        raise typer.BadParameter(f"{value!r}: use text, markdown or json", param_hint="--format")
    return fmt_


@app.command()
def plan(
    ctx: typer.Context,
    directory: DirArg = ".",
    endpoint: EndpointOpt = None,
    detailed_exitcode: Annotated[
        bool, typer.Option("--detailed-exitcode", help="Exit 0 with no changes, 2 with changes, 1 on error.")
    ] = False,
    destroy: Annotated[bool, typer.Option("--destroy", help="Plan destroying everything managed.")] = False,
    out: Annotated[str | None, typer.Option("--out", help="Save the plan for `lorainfra apply FILE`.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the plan as JSON (schemas/plan.schema.json).")] = False,
    format_: FormatOpt = "text",
    target: TargetOpt = None,
    replace: ReplaceOpt = None,
    lock_timeout: LockTimeout = "0s",
) -> None:
    """Show what apply would change: refresh live objects, diff them against the config."""
    from lorainfra.cli.console import PlainSink
    from lorainfra.cli.context import open_workspace
    from lorainfra.plan.planfile import write_plan_file
    from lorainfra.state.model import State

    fmt_ = _check_format(format_, as_json)
    ws = open_workspace(directory, _endpoint(ctx, endpoint), insecure=_opts(ctx).insecure, max_rps=_opts(ctx).max_rps)
    options = _options(destroy, target, replace)
    with ExitStack() as stack:
        if out:
            stack.enter_context(ws.backend.lock("plan --out", timeout=parse_timeout(lock_timeout)))
            if ws.backend.read() is None:  # fix the lineage now, so the saved plan can be checked against it
                ws.backend.write(State.new(), operation="plan --out")
        planned = run_async(lambda stop: _plan(ws, PlainSink(sys.stderr), options))
        _raise_plan_errors(planned)
        if out:
            write_plan_file(out, planned.plan, config_dir=str(Path(ws.config.root)))
    _emit_plan(planned.plan, fmt_)
    if out:
        sys.stderr.write(f"Saved the plan to {out}. Apply exactly this plan with: lorainfra apply {out}\n")
    if detailed_exitcode and planned.plan.has_changes:
        raise typer.Exit(2)


def _confirm(action: str) -> None:
    if not sys.stdin.isatty():
        raise LorainfraError(
            f"{action} needs confirmation but there is no terminal to ask on: review the plan above and "
            "pass --auto-approve (or apply a saved plan: lorainfra plan --out FILE; lorainfra apply FILE)"
        )
    answer = input(f"\nDo you want to perform these actions?\n  Only 'yes' will be accepted to {action}.\n\n  Enter a value: ")
    if answer.strip() != "yes":
        print(f"\n{action.capitalize()} cancelled.")
        raise typer.Exit(1)


def _report(result: ApplyResult, verb: str) -> None:
    from rich.markup import escape  # server messages may hold [brackets]: never read them as markup

    out = _console()
    for label, reason in result.failed:
        out.print(f"[red]Failed:[/] {escape(label)}: {escape(reason)}")
    for label, because in result.skipped:
        out.print(f"[yellow]Skipped:[/] {escape(label)}: depends on {escape(because)}, which failed")
    for label, reason in result.stopped:
        out.print(f"[yellow]Stopped:[/] {escape(label)}: {escape(reason)}")
    for label in result.not_started:
        out.print(f"[yellow]Not started:[/] {escape(label)}")
    status = "complete" if result.ok else ("interrupted" if result.interrupted else "failed")
    parts = [f"{len(result.applied)} done", f"{len(result.failed)} failed", f"{len(result.skipped)} skipped"]
    if result.stopped:
        parts.append(f"{len(result.stopped)} stopped while waiting")
    if result.not_started:
        parts.append(f"{len(result.not_started)} not started")
    out.print(f"\n{verb} {status}! Resources: {', '.join(parts)}. State serial {result.state.serial}.", markup=False)


def _apply(
    ctx: typer.Context, directory: str, endpoint: str | None, auto_approve: bool, parallelism: int,
    lock_timeout: str, options: PlanOptions, plan_file: str | None = None,
) -> None:
    import asyncio

    from lorainfra.cli.console import PlainSink
    from lorainfra.cli.context import open_workspace
    from lorainfra.cli.render import render_plan
    from lorainfra.engine.applier import Applier, ApplyOptions
    from lorainfra.engine.planner import PlanOptions, make_plan, totals_by_kind
    from lorainfra.plan.planfile import ensure_fresh, ensure_lifecycle, read_plan_file

    saved: Plan | None = None
    if plan_file:
        saved, recorded_dir, _ = read_plan_file(plan_file)
        options = PlanOptions(destroy=saved.destroy)
        if directory == "." and recorded_dir and Path(recorded_dir).is_dir():
            directory = recorded_dir
    ws = open_workspace(directory, _endpoint(ctx, endpoint), insecure=_opts(ctx).insecure, max_rps=_opts(ctx).max_rps)
    verb = "Destroy" if options.destroy else "Apply"
    operation = "destroy" if options.destroy else "apply"
    with ws.backend.lock(operation, timeout=parse_timeout(lock_timeout)):
        async def go(stop: asyncio.Event) -> tuple[Planned, ApplyResult | None]:
            async with ws.provider() as provider:
                planned = await make_plan(ws.config, provider, _read_state(ws), PlainSink(sys.stderr), options)
                if planned.plan.errors:
                    return planned, None
                to_apply = planned.plan
                if saved is not None:
                    ensure_fresh(saved, planned.plan)
                    ensure_lifecycle(saved, ws.config.resources)
                    to_apply = saved  # exactly what was reviewed
                else:
                    from lorainfra.cli.colour import plan_for

                    sys.stdout.write(plan_for(sys.stdout, render_plan(to_apply)))
                if not to_apply.has_changes and not planned.notes:
                    return planned, None
                if saved is None and not auto_approve and to_apply.has_changes:
                    await asyncio.to_thread(_confirm, operation)
                with ExitStack() as stack:
                    sink = _sink(stack)
                    applier = Applier(provider, ws.backend, planned.state, sink,
                                      ApplyOptions(parallelism=parallelism), operation=operation, stop=stop,
                                      totals=totals_by_kind(planned.observed))
                    if planned.notes:  # pending operations were resolved: record that first
                        applier.state = ws.backend.write(planned.state, operation=operation)
                    result = await applier.run(to_apply)
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
    directory: Annotated[str, typer.Argument(help="Config folder, or a plan file saved with plan --out.")] = ".",
    endpoint: EndpointOpt = None,
    auto_approve: AutoApprove = False,
    parallelism: Parallelism = 10,
    lock_timeout: LockTimeout = "0s",
    target: TargetOpt = None,
    replace: ReplaceOpt = None,
) -> None:
    """Make the account match the config (or apply exactly a saved plan), in dependency order."""
    from lorainfra.engine.planner import PlanOptions

    if Path(directory).is_file():
        if target or replace:
            raise typer.BadParameter("a saved plan already fixed its targets", param_hint="--target/--replace")
        _apply(ctx, ".", endpoint, True, parallelism, lock_timeout, PlanOptions(), plan_file=directory)
        return
    _apply(ctx, directory, endpoint, auto_approve, parallelism, lock_timeout,
           _options(False, target, replace))


@app.command()
def destroy(
    ctx: typer.Context,
    directory: DirArg = ".",
    endpoint: EndpointOpt = None,
    auto_approve: AutoApprove = False,
    parallelism: Parallelism = 10,
    lock_timeout: LockTimeout = "0s",
    target: TargetOpt = None,
) -> None:
    """Delete everything this config manages (LoRAs unloaded before their deployments)."""
    _apply(ctx, directory, endpoint, auto_approve, parallelism, lock_timeout, _options(True, target, None))
