"""Review commands: show a saved plan, report drift, import a live object."""

from __future__ import annotations

import json
import sys
from typing import TYPE_CHECKING, Annotated

import typer

from lorainfra.addresses import Address
from lorainfra.cli.app import DirArg, EndpointOpt, _endpoint, _opts, app, run_async
from lorainfra.cli.commands import LockTimeout, _check_format, _emit_plan, _read_state, parse_timeout
from lorainfra.errors import LorainfraError

if TYPE_CHECKING:  # heavy modules are imported inside the commands (fast `lorainfra --help`)
    import asyncio

    from lorainfra.providers.base import RemoteObject


@app.command()
def show(
    plan_file: Annotated[str, typer.Argument(help="A plan saved with `lorainfra plan --out FILE`.")],
    as_json: Annotated[bool, typer.Option("--json", help="Print the plan as JSON.")] = False,
    format_: Annotated[str, typer.Option("--format", help="text | markdown | json")] = "text",
) -> None:
    """Print a saved plan."""
    from lorainfra.plan.planfile import read_plan_file

    plan, _, _ = read_plan_file(plan_file)
    _emit_plan(plan, _check_format(format_, as_json))


@app.command()
def drift(
    ctx: typer.Context,
    directory: DirArg = ".",
    endpoint: EndpointOpt = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the drift as JSON.")] = False,
    format_: Annotated[str, typer.Option("--format", help="text | markdown | json")] = "text",
) -> None:
    """Report changes made outside lorainfra (read-only). Exit 0 no drift, 2 drift, 1 error.

    Config edits not yet applied are not drift: live objects are compared with what lorainfra last applied.
    """
    from lorainfra.cli.console import PlainSink
    from lorainfra.cli.context import open_workspace
    from lorainfra.cli.markdown import drift_markdown
    from lorainfra.cli.render import render_drift
    from lorainfra.engine.planner import reconcile, refresh
    from lorainfra.plan.diff import drift as compute_drift

    fmt_ = _check_format(format_, as_json)
    ws = open_workspace(directory, _endpoint(ctx, endpoint), insecure=_opts(ctx).insecure, max_rps=_opts(ctx).max_rps)

    async def go(stop: asyncio.Event):  # type: ignore[no-untyped-def]
        async with ws.provider() as provider:
            observed = await refresh(provider, PlainSink(sys.stderr))
            state, _ = reconcile(_read_state(ws), observed)
            ignore = {str(a): r.lifecycle.ignore_changes for a, r in ws.config.resources.items()}
            return compute_drift(state, observed, ignore)

    items = run_async(go)
    if fmt_ == "json":
        doc = {"format_version": "1.0", "drift": [
            {"address": d.address, "kind": d.kind, "attribute": d.attribute, "expected": d.expected, "live": d.live}
            for d in items]}
        sys.stdout.write(json.dumps(doc, indent=2, sort_keys=True, default=list) + "\n")
    elif fmt_ == "markdown":
        sys.stdout.write(drift_markdown(items))
    elif items:
        sys.stdout.write("\n".join(render_drift(items)) + "\n")
    else:
        sys.stdout.write("No drift: live objects match what lorainfra last applied.\n")
    if items:
        raise typer.Exit(2)


@app.command("import")
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
    from lorainfra.state.model import ResourceState

    try:
        addr = Address.parse(address)
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint="ADDRESS") from exc
    ws = open_workspace(directory, _endpoint(ctx, endpoint), insecure=_opts(ctx).insecure, max_rps=_opts(ctx).max_rps)
    resource = ws.config.resources.get(addr)
    if resource is None:
        raise LorainfraError(f"{address} is not declared in {directory}: add it to the config first, then import")
    with ws.backend.lock("import", timeout=parse_timeout(lock_timeout)):
        state = _read_state(ws)
        if address in state.resources:
            raise LorainfraError(f"{address} is already managed ({state.resources[address].remote_name}); "
                                 "use `lorainfra state rm` first to re-import")

        async def go(stop: asyncio.Event) -> RemoteObject | None:
            async with ws.provider() as provider:
                name = remote_name
                if addr.kind == "deployment" and "/" not in name:
                    name = provider.deployment_name(name)
                return await provider.get(addr.kind, name)

        obj = run_async(go)
        if obj is None or obj.gone:
            raise LorainfraError(f"{remote_name} does not exist in the account (or is deleted); nothing imported")
        kind_of_name = "deployments/" if addr.kind == "deployment" else "deployedModels/"
        if kind_of_name not in obj.name:
            raise LorainfraError(f"{obj.name} is not a {addr.kind}")
        taken = [a for a, r in state.resources.items() if r.remote_name == obj.name]
        if taken:
            raise LorainfraError(f"{obj.name} is already managed as {taken[0]}")
        entry = ResourceState(address, addr.kind, obj.name, obj.attributes,
                              tuple(str(d) for d in resource.depends_on), obj.digest)
        written = ws.backend.write(state.with_resource(entry), operation="import")
    print(f"Imported {obj.name} as {address} (state serial {written.serial}). Run `lorainfra plan` to see "
          "how it differs from the config.")
