"""Review commands: show a saved plan, report drift, import a live object (registered in ``cli.app``)."""

from __future__ import annotations

import json
import sys
from typing import TYPE_CHECKING, Annotated

import typer

from lorainfra.cli.options import (
    DirArg,
    EndpointOpt,
    FormatOpt,
    LockTimeout,
    endpoint_of,
    opts,
    parse_timeout,
)
from lorainfra.cli.runtime import check_format, emit_plan, run_async
from lorainfra.errors import LorainfraError

if TYPE_CHECKING:  # heavy modules are imported inside the commands (fast `lorainfra --help`)
    import asyncio

    from lorainfra.engine.review import DriftReport
    from lorainfra.state.model import State


def show(
    plan_file: Annotated[str, typer.Argument(help="A plan saved with `lorainfra plan --out FILE`.")],
    as_json: Annotated[bool, typer.Option("--json", help="Print the plan as JSON.")] = False,
    format_: FormatOpt = "text",
) -> None:
    """Print a saved plan."""
    from lorainfra.plan.planfile import read_plan_file

    plan, _, _ = read_plan_file(plan_file)
    emit_plan(plan, check_format(format_, as_json))


def drift(
    ctx: typer.Context,
    directory: DirArg = ".",
    endpoint: EndpointOpt = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the drift as JSON.")] = False,
    format_: FormatOpt = "text",
) -> None:
    """Report changes made outside lorainfra (read-only). Exit 0 no drift, 2 drift, 1 error.

    Config edits not yet applied are not drift: live objects are compared with what lorainfra last applied.
    """
    from lorainfra.cli.console import PlainSink
    from lorainfra.cli.context import open_workspace
    from lorainfra.cli.markdown import drift_markdown
    from lorainfra.cli.render import lock_banner, render_drift
    from lorainfra.engine.review import detect_drift
    from lorainfra.plan.jsonplan import drift_document

    fmt_ = check_format(format_, as_json)
    ws = open_workspace(directory, endpoint_of(ctx, endpoint), insecure=opts(ctx).insecure, max_rps=opts(ctx).max_rps,
                        ctx=ctx)

    async def go(stop: asyncio.Event) -> DriftReport:
        from lorainfra.engine.stopping import until_stopped

        lock = ws.backend.lock_holder()  # another run applying now: its changes are in flight, not drift
        async with ws.provider() as provider:
            return await until_stopped(
                detect_drift(ws.config, provider, ws.read_state(), PlainSink(sys.stderr), lock=lock),
                stop, "checking for drift")

    report = run_async(go)
    items = report.items
    if fmt_ != "json":
        sys.stdout.write("".join(line + "\n" for line in lock_banner(report.lock, report.in_flight)))
    if fmt_ == "json":
        sys.stdout.write(json.dumps(drift_document(items, report.lock, report.in_flight), indent=2, sort_keys=True) + "\n")
    elif fmt_ == "markdown":
        sys.stdout.write(drift_markdown(items))
    elif items:
        sys.stdout.write("\n".join(render_drift(items)) + "\n")
    else:
        sys.stdout.write("No drift: live objects match what lorainfra last applied.\n")
    if items:
        raise typer.Exit(2)


def import_(
    ctx: typer.Context,
    address: Annotated[str, typer.Argument(help="Config address to adopt into, e.g. deployment.shared-base.")],
    remote_name: Annotated[str, typer.Argument(help="Live object: accounts/A/deployments/ID, a deployment ID, "
                                                     "or accounts/A/deployedModels/ID.")],
    directory: DirArg = ".",
    endpoint: EndpointOpt = None,
    lock_timeout: LockTimeout = "0s",
) -> None:
    """Adopt a live deployment or loaded LoRA made by hand; the next plan shows only real differences."""
    from lorainfra.cli.context import open_workspace
    from lorainfra.engine.review import import_object
    from lorainfra.kinds.registry import parse_address

    try:
        addr = parse_address(address)
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint="ADDRESS") from exc
    ws = open_workspace(directory, endpoint_of(ctx, endpoint), insecure=opts(ctx).insecure, max_rps=opts(ctx).max_rps,
                        ctx=ctx)
    resource = ws.config.resources.get(addr)
    if resource is None:
        raise LorainfraError(f"{address} is not declared in {directory}: add it to the config first, then import")
    with ws.backend.lock("import", timeout=parse_timeout(lock_timeout)):
        state = ws.read_state()

        async def go(stop: asyncio.Event) -> State:
            async with ws.provider() as provider:
                return await import_object(provider, state, resource, remote_name)

        imported = run_async(go)
        written = ws.backend.write(imported, operation="import")
    entry = written.resources[address]
    print(f"Imported {entry.remote_name} as {address} (state serial {written.serial}). Run `lorainfra plan` to see "
          "how it differs from the config.")
