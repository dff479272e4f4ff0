"""lorainfra output: what applications call (model strings) per LoRA and deployment, from the state."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Annotated

import typer

from lorainfra.cli.options import DirArg, load_selected


def output(
    ctx: typer.Context,
    directory: DirArg = ".",
    as_json: Annotated[bool, typer.Option("--json", help="Print the outputs as JSON.")] = False,
    out: Annotated[
        str | None, typer.Option("--out", help="Also write the JSON outputs to this file, for apps to read.")
    ] = None,
) -> None:
    """Print what apps call for each applied LoRA and deployment (model#deployment, deployment, model)."""
    from lorainfra.engine.outputs import outputs, outputs_json
    from lorainfra.state.model import State
    from lorainfra.state.open import default_who, open_backend

    config = load_selected(ctx, directory, os.environ)
    state = open_backend(config.state, Path(config.root), environ=os.environ, who=default_who()).read() or State.new()
    items = outputs(state)
    document = json.dumps(outputs_json(items, config.environment), indent=2, sort_keys=True) + "\n"
    if out:
        target = Path(out)
        temporary = target.with_name(f".{target.name}.tmp")
        try:
            temporary.write_text(document)
            os.replace(temporary, target)
        except OSError as exc:
            raise typer.BadParameter(f"cannot write {out}: {exc.strerror or exc}", param_hint="--out") from exc
    if as_json:
        sys.stdout.write(document)
        return
    if not items:
        where = f" in environment {config.environment}" if config.environment else ""
        sys.stderr.write(f"No outputs: nothing is applied{where} yet (run lorainfra apply).\n")
        return
    width = max(len(item.address) for item in items)
    for item in items:
        sys.stdout.write(f"{item.address:<{width}}  {item.call}  ({item.via})\n")
