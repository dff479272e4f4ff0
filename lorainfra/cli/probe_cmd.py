"""Probe command: ``lorainfra probe`` checks the provider's API assumptions against a server, read-only."""

from __future__ import annotations

import json
import os
import sys
from typing import Annotated

import typer

from lorainfra.cli.options import EndpointOpt, endpoint_of, opts
from lorainfra.cli.runtime import console
from lorainfra.errors import SettingsError


def probe(
    ctx: typer.Context,
    endpoint: EndpointOpt = None,
    account: Annotated[
        str | None, typer.Option("--account", help="Account to probe (default: FIREWORKS_ACCOUNT_ID).")
    ] = None,
    base_model: Annotated[
        str | None, typer.Option("--base-model", help="Base model for the validateOnly shape check.")
    ] = None,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print the report as JSON (for bug reports).")
    ] = False,
) -> None:
    """Check the API assumptions with GETs and validateOnly requests only (never creates, updates or deletes)."""
    from lorainfra.cli.context import resolve_settings
    from lorainfra.config.model import Config, ProviderSettings, StateSettings
    from lorainfra.probe import DEFAULT_BASE_MODEL, run_probe

    config = Config(root=".", provider=ProviderSettings(account=account), state=StateSettings(), resources={})
    settings = resolve_settings(
        config, endpoint_of(ctx, endpoint), os.environ, insecure=opts(ctx).insecure, max_rps=opts(ctx).max_rps
    )
    if settings.is_local:
        raise SettingsError(
            "probe checks a served API: pass --endpoint URL (start one with `lorainfra emulator serve`)"
        )
    report = run_probe(
        settings.endpoint, settings.account, settings.api_key, base_model=base_model or DEFAULT_BASE_MODEL
    )
    if as_json:
        sys.stdout.write(json.dumps(report.to_json(), indent=2, sort_keys=True) + "\n")
    else:
        from rich.table import Table

        table = Table(title=f"lorainfra probe: {report.endpoint} (account {report.account})", show_lines=True)
        for column in ("check", "assumption", "what the server did", "result"):
            table.add_column(column)
        for c in report.checks:
            table.add_row(c.name, c.assumption, c.observed, "OK" if c.ok else "DIFFERS")
        out = console()
        out.print(table, markup=False)
        differs = sum(not c.ok for c in report.checks)
        out.print(
            "All assumptions hold."
            if not differs
            else f"{differs} assumption(s) differ: attach `--json` to a bug report.",
            markup=False,
        )
    if not report.ok:
        raise typer.Exit(1)
