"""Commands: validate, plan, apply and destroy (registered on the app in ``cli.app``)."""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from lorainfra.cli.options import (
    AutoApprove,
    DirArg,
    EndpointOpt,
    FormatOpt,
    LockTimeout,
    NoAdoptOpt,
    Parallelism,
    ReplaceOpt,
    TargetOpt,
    addresses,
    endpoint_of,
    opts,
    parse_timeout,
)
from lorainfra.cli.runtime import check_format, console, emit_plan, live_sink, run_async
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
    from lorainfra.state.backend import LockInfo
    from lorainfra.state.model import State


def _workspace(ctx: typer.Context, directory: str, endpoint: str | None) -> Workspace:
    from lorainfra.cli.context import open_workspace

    return open_workspace(directory, endpoint_of(ctx, endpoint), insecure=opts(ctx).insecure,
                          max_rps=opts(ctx).max_rps, ctx=ctx)


async def _plan(ws: Workspace, sink: EventSink, options: PlanOptions, stop: asyncio.Event, *,
                locked: bool = False) -> Planned:
    """``locked``: this command holds the state lock; else whoever does is said in the plan."""
    from lorainfra.engine.planner import make_plan
    from lorainfra.engine.stopping import until_stopped

    lock = None if locked else ws.backend.lock_holder()
    async with ws.provider() as provider:
        return await until_stopped(make_plan(ws.config, provider, ws.read_state(), sink, options, lock=lock), stop,
                                   "planning")


# While the config loads in a thread, the event loop waits for pages: with Python's default 5 ms switch interval,
# each answer could wait up to 5 ms for the loading thread to yield the GIL, a few times per page
SWITCH_WHILE_LOADING = 0.0005


def _early_workspace(ctx: typer.Context, directory: str,
                     endpoint: str | None) -> tuple[Workspace, LockInfo | None, State] | None:
    """The workspace lorainfra.yaml alone gives (settings and state backend, no resources), the lock holder and
    the state (asked in this order, as ``_plan`` does), when a refresh can start from them before the rest of
    the config is loaded: a remote endpoint (the embedded emulator has no latency to hide), settings and state
    that read without error, and a state of this account (a wrong account gets no request). None: plan the
    usual way, which reports whatever is wrong in the usual order (a state entry lorainfra cannot manage is an
    error of the plan, as before)."""
    import os

    from lorainfra.cli.context import workspace_for
    from lorainfra.cli.options import settings_selected

    try:
        config = settings_selected(ctx, directory, os.environ)
        if config is None:
            return None
        ws = workspace_for(config, endpoint_of(ctx, endpoint), os.environ, insecure=opts(ctx).insecure,
                           max_rps=opts(ctx).max_rps)
        if ws.settings.is_local:
            return None
        lock = ws.backend.lock_holder()
        state = ws.read_state()
        state.bound_to(ws.settings.account, ws.settings.endpoint)
        return ws, lock, state
    except LorainfraError:
        return None


async def _plan_early(ctx: typer.Context, directory: str, endpoint: str | None, sink: EventSink,
                      options: PlanOptions, stop: asyncio.Event) -> Planned:
    """A plan whose refresh runs while the config loads (in a worker thread): the refresh is mostly waiting for
    the API, the config load is CPU. The state is read, and the lock holder asked, before the refresh starts, as
    in ``_plan``. When the loaded config's settings are not the ones the refresh started with, or the config
    does not load, the refresh is cancelled and the plan is made (or the error raised) as without it."""
    import dataclasses

    from lorainfra.engine.planner import make_plan, start_refresh
    from lorainfra.engine.stopping import until_stopped

    found = _early_workspace(ctx, directory, endpoint)
    if found is None:
        return await _plan(_workspace(ctx, directory, endpoint), sink, options, stop)
    early, lock, state = found
    async with early.provider() as provider:
        refreshing = start_refresh(provider)
        interval = sys.getswitchinterval()
        sys.setswitchinterval(SWITCH_WHILE_LOADING)  # the loop thread gets the GIL soon after each page arrives
        try:
            ws = await asyncio.to_thread(_workspace, ctx, directory, endpoint)
        except BaseException:
            await refreshing.cancel()
            raise
        finally:
            sys.setswitchinterval(interval)
        same = dataclasses.replace(ws.config, resources=early.config.resources, files=(), digest="", warnings=(),
                                   moves=()) == early.config and ws.settings == early.settings
        if same:
            return await until_stopped(make_plan(ws.config, provider, state, sink, options, lock=lock,
                                                     refreshing=refreshing), stop, "planning")
        await refreshing.cancel()
    return await _plan(ws, sink, options, stop)


def _raise_plan_errors(planned: Planned) -> None:
    if planned.plan.errors:
        raise ConfigError(list(planned.plan.errors))


def validate(
    ctx: typer.Context,
    directory: DirArg = ".",
    as_json: Annotated[bool, typer.Option("--json", help="Print the result as JSON (terraform validate -json's shape).")] = False,
) -> None:
    """Check the config folder offline: schema, references, IDs, bounds. No API call."""
    import os

    from lorainfra.cli.context import print_warnings
    from lorainfra.cli.options import load_selected

    if as_json:
        from lorainfra.config.validate_json import validate_json

        diagnostics: list[Diagnostic] = []
        try:
            diagnostics = list(load_selected(ctx, directory, os.environ).warnings)
        except ConfigError as exc:
            diagnostics = list(exc.diagnostics)
        report = validate_json(diagnostics)
        sys.stdout.write(json.dumps(report, indent=2) + "\n")
        raise typer.Exit(0 if report["valid"] else 1)
    config = load_selected(ctx, directory, os.environ)
    print_warnings(config)
    n = len(config.resources)
    print(f"Success! {directory}: {n} resource{'s' if n != 1 else ''} in {len(config.files)} file(s) are valid.")


RefreshOnly = Annotated[bool, typer.Option(
    "--refresh-only",
    help="Change no live object: show what changed live since the last apply (drift), and accept the live "
         "values into the state (apply).")]


def _options(destroy: bool, target: list[str] | None, replace: list[str] | None,
             refresh_only: bool = False, no_adopt: bool = False) -> PlanOptions:
    from lorainfra.engine.planner import PlanOptions

    if refresh_only and (destroy or target or replace):
        given = "--destroy" if destroy else "--target" if target else "--replace"
        raise typer.BadParameter(f"{given} plans changes to live objects, which --refresh-only never makes: "
                                 "run the two separately", param_hint="--refresh-only")
    return PlanOptions(destroy=destroy, targets=addresses(target, "--target"),
                       replace=addresses(replace, "--replace"), refresh_only=refresh_only, adopt=not no_adopt)


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
    refresh_only: RefreshOnly = False,
    no_adopt: NoAdoptOpt = False,
) -> None:
    """Show what apply would change: refresh live objects, diff them against the config."""
    from lorainfra.cli.console import PlainSink
    from lorainfra.plan.planfile import write_plan_file
    from lorainfra.state.model import State

    fmt_ = check_format(format_, as_json)
    if out:  # a saved plan refreshes under the lock
        ws = _workspace(ctx, directory, endpoint)
        options = _options(destroy, target, replace, refresh_only, no_adopt)
        with ws.backend.lock("plan --out", timeout=parse_timeout(lock_timeout)):
            if ws.backend.read() is None:  # fix the lineage now, so the saved plan can be checked against it
                ws.backend.write(State.new(), operation="plan --out")
            planned = run_async(lambda stop: _plan(ws, PlainSink(sys.stderr), options, stop, locked=True))
            _raise_plan_errors(planned)
            write_plan_file(out, planned.plan, config_dir=str(Path(ws.config.root)))
    else:  # the refresh starts while the config loads
        options = _options(destroy, target, replace, refresh_only, no_adopt)
        planned = run_async(lambda stop: _plan_early(ctx, directory, endpoint, PlainSink(sys.stderr), options, stop))
        _raise_plan_errors(planned)
    emit_plan(planned.plan, fmt_)
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

    out = console()
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
    lock_timeout: str, options: PlanOptions, plan_file: str | None = None, force: bool = False,
) -> None:
    import asyncio

    from lorainfra.cli.console import PlainSink
    from lorainfra.cli.render import render_plan
    from lorainfra.engine.applier import ApplyOptions
    from lorainfra.engine.planner import PlanOptions
    from lorainfra.engine.session import SessionOptions, SessionResult, apply_session
    from lorainfra.plan.planfile import read_plan_file

    saved: Plan | None = None
    if plan_file:
        saved, recorded_dir, _ = read_plan_file(plan_file)
        # --no-adopt still checks the re-plan
        options = PlanOptions(destroy=saved.destroy, refresh_only=saved.refresh_only, adopt=options.adopt)
        if directory == "." and recorded_dir and Path(recorded_dir).is_dir():
            directory = recorded_dir
    ws = _workspace(ctx, directory, endpoint)
    verb = "Destroy" if options.destroy else "Apply"
    operation = "destroy" if options.destroy else "apply"
    session = SessionOptions(plan=options, apply=ApplyOptions(parallelism=parallelism), operation=operation,
                             lock_timeout=parse_timeout(lock_timeout))

    def show(plan_: Plan) -> None:
        from lorainfra.cli.colour import plan_for

        sys.stdout.write(plan_for(sys.stdout, render_plan(plan_)))

    async def confirm(_: Plan) -> bool:
        await asyncio.to_thread(_confirm, operation)  # a "no" exits
        return True

    async def go(stop: asyncio.Event) -> SessionResult:
        async with ws.provider(force_deletes=force) as provider:
            return await apply_session(
                ws.config, provider, ws.backend, options=session, plan_sink=PlainSink(sys.stderr),
                apply_sink=live_sink, saved=saved, show=show,
                confirm=None if saved is not None or auto_approve else confirm, stop=stop,
            )

    outcome = run_async(go)
    _raise_plan_errors(outcome.planned)
    result = outcome.result
    if result is None:
        return
    _report(result, verb)
    if result.interrupted:
        raise typer.Exit(130)
    if not result.ok:
        raise typer.Exit(1)


def apply(
    ctx: typer.Context,
    directory: Annotated[str, typer.Argument(help="Config folder, or a plan file saved with plan --out.")] = ".",
    endpoint: EndpointOpt = None,
    auto_approve: AutoApprove = False,
    parallelism: Parallelism = 10,
    lock_timeout: LockTimeout = "0s",
    target: TargetOpt = None,
    replace: ReplaceOpt = None,
    refresh_only: RefreshOnly = False,
    no_adopt: NoAdoptOpt = False,
) -> None:
    """Make the account match the config (or apply exactly a saved plan), in dependency order.

    With --refresh-only: change no live object; accept what changed live (drift) into the state."""
    from lorainfra.engine.planner import PlanOptions

    if Path(directory).is_file():
        if target or replace or refresh_only:
            raise typer.BadParameter("a saved plan already fixed its targets and mode",
                                     param_hint="--target/--replace/--refresh-only")
        _apply(ctx, ".", endpoint, True, parallelism, lock_timeout, PlanOptions(adopt=not no_adopt),
               plan_file=directory)
        return
    _apply(ctx, directory, endpoint, auto_approve, parallelism, lock_timeout,
           _options(False, target, replace, refresh_only, no_adopt))


def destroy(
    ctx: typer.Context,
    directory: DirArg = ".",
    endpoint: EndpointOpt = None,
    auto_approve: AutoApprove = False,
    parallelism: Parallelism = 10,
    lock_timeout: LockTimeout = "0s",
    target: TargetOpt = None,
    force: Annotated[bool, typer.Option(
        "--force", help="Delete deployments even when Fireworks refuses (LoRAs still loaded): sends ignoreChecks=true.",
    )] = False,
) -> None:
    """Delete everything this config manages (LoRAs unloaded before their deployments)."""
    _apply(ctx, directory, endpoint, auto_approve, parallelism, lock_timeout, _options(True, target, None),
           force=force)
