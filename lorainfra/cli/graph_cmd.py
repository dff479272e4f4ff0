"""Command: ``lorainfra graph [DIR] [--format dot|mermaid] [--plan FILE]``."""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from lorainfra.cli.options import DirArg


def graph(
    ctx: typer.Context,
    directory: DirArg = ".",
    format_: Annotated[str, typer.Option("--format", help="dot (Graphviz) or mermaid (renders in GitHub comments).")] = "dot",
    plan_file: Annotated[
        str | None, typer.Option("--plan", help="Draw a plan saved with `plan --out FILE`, actions marked.")
    ] = None,
) -> None:
    """Print the dependency graph of the config (or of a saved plan). Offline: no API call."""
    from lorainfra.graph_render import FORMATS, graph_of_config, graph_of_plan, render_graph

    if format_ not in FORMATS:
        raise typer.BadParameter(f"{format_!r}: use {' or '.join(FORMATS)}", param_hint="--format")
    if plan_file:
        from lorainfra.plan.planfile import read_plan_file

        view = graph_of_plan(read_plan_file(plan_file)[0])
    else:
        import os

        from lorainfra.cli.options import load_selected

        view = graph_of_config(load_selected(ctx, directory, os.environ))
    sys.stdout.write(render_graph(view, format_))
