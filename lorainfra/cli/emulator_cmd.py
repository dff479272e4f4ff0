"""Emulator command: ``lorainfra emulator serve`` runs the Fireworks emulator on a loopback port."""

from __future__ import annotations

from typing import Annotated

import typer

emulator_app = typer.Typer(help="Run the embedded Fireworks control-plane emulator.", no_args_is_help=True)


@emulator_app.command("serve")
def serve(
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8765,
    db: Annotated[str, typer.Option(help="SQLite file holding the emulated account(s).")] = ".lorainfra/emulator.db",
    seed: Annotated[str | None, typer.Option(help="YAML/JSON file with a `models:` list (wire format).")] = None,
    ready_after: Annotated[float, typer.Option("--ready-after", help="Seconds until a deployment is READY.")] = 2.0,
    deployed_after: Annotated[float, typer.Option("--deployed-after", help="Seconds until a LoRA is DEPLOYED.")] = 1.0,
    delete_after: Annotated[float, typer.Option("--delete-after", help="Seconds in DELETING/UNDEPLOYING.")] = 0.5,
    latency_ms: Annotated[float, typer.Option("--latency-ms", help="Added latency per request.")] = 0.0,
    fault_rate: Annotated[float, typer.Option("--fault-rate", help="Fraction of requests answered by a fault.")] = 0.0,
    fail_pattern: Annotated[str | None, typer.Option("--fail-pattern", help="Regex: matching resources go FAILED.")] = None,
    fault_seed: Annotated[int | None, typer.Option("--fault-seed", help="Seed for repeatable faults.")] = None,
    serverless_limit: Annotated[int, typer.Option("--serverless-limit", help="Serverless LoRAs per account.")] = 100,
    serverless_per_base_limit: Annotated[int, typer.Option(
        "--serverless-per-base-limit", help="Serverless LoRAs per base model per account (documented: 3).")] = 3,
    serverless_idle_unload: Annotated[bool, typer.Option(
        "--serverless-idle-unload/--no-serverless-idle-unload",
        help="Unload serverless LoRAs after a week without use.")] = True,
    max_rps: Annotated[float | None, typer.Option(
        "--max-rps", min=0.001,
        help="Answer 429 + Retry-After past this many requests/s per account (Fireworks documents "
             "6,000/min = 100/s per account). Default: no limit.")] = None,
    auto_deploy_base: Annotated[bool, typer.Option(
        "--auto-deploy-base/--no-auto-deploy-base",
        help="Creating a deployment also lists its base model in deployedModels (as Fireworks does).")] = True,
    api_key: Annotated[str | None, typer.Option("--api-key", envvar="LORAINFRA_EMULATOR_API_KEY",
                                                help="Accept only this bearer token (default: any).")] = None,
) -> None:
    """Serve the emulator (same paths, fields, states and errors as api.fireworks.ai)."""
    from pathlib import Path

    from lorainfra.emulator import EmulatorOptions
    from lorainfra.emulator import serve as run_server

    Path(db).parent.mkdir(parents=True, exist_ok=True)
    options = EmulatorOptions(
        ready_after=ready_after, deployed_after=deployed_after, delete_after=delete_after, latency_ms=latency_ms,
        fault_rate=fault_rate, fail_pattern=fail_pattern, fault_seed=fault_seed, serverless_limit=serverless_limit,
        serverless_per_base_limit=serverless_per_base_limit,
        serverless_idle_unload_after=EmulatorOptions.serverless_idle_unload_after if serverless_idle_unload else None,
        max_rps=max_rps, auto_deploy_base=auto_deploy_base, api_key=api_key,
    )
    if fail_pattern:
        import re

        try:
            re.compile(fail_pattern)
        except re.error as exc:
            raise typer.BadParameter(f"not a regular expression: {exc}", param_hint="--fail-pattern") from exc
    if seed:
        import yaml

        from lorainfra.emulator.server import load_seed_file

        try:
            load_seed_file(seed)
        except (OSError, ValueError, UnicodeDecodeError, yaml.YAMLError) as exc:
            raise typer.BadParameter(f"{seed}: {exc}", param_hint="--seed") from exc
    run_server(host=host, port=port, db=db, options=options, seed_file=seed)
