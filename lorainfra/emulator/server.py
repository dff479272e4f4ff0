"""serve(): run the emulator over HTTP on a loopback port with uvicorn."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path
from typing import Any

import uvicorn
import yaml

from lorainfra.emulator.app import Emulator
from lorainfra.emulator.options import EmulatorOptions


def load_seed_file(path: str) -> tuple[dict[str, Any], ...]:
    """Read a YAML or JSON file with a top-level `models:` list of Model objects in wire format."""
    text = Path(path).read_text(encoding="utf-8")
    doc = json.loads(text) if path.endswith(".json") else yaml.safe_load(text)
    items = (doc or {}).get("models") if isinstance(doc, dict) else None
    if not isinstance(items, list) or not all(isinstance(m, dict) and m.get("name") for m in items):
        raise ValueError(f"{path}: expected a `models:` list of objects that each have a `name`")
    return tuple(items)


def build(db: str, options: EmulatorOptions, seed_file: str | None = None) -> Emulator:
    if seed_file:
        options = replace(options, seed_models=(*options.seed_models, *load_seed_file(seed_file)))
    return Emulator(db, options)


def uvicorn_config(app: Any, *, host: str, port: int, log_level: str = "warning") -> uvicorn.Config:
    """How the emulator is served: uvicorn with the httptools HTTP parser (a dependency).

    h11, uvicorn's pure-Python fallback, costs about a fifth of the served emulator's CPU per request;
    naming httptools (rather than uvicorn's "auto") makes a missing install fail at start, not run slower.
    """
    return uvicorn.Config(app, host=host, port=port, log_level=log_level, http="httptools")


def serve(
    *,
    host: str = "127.0.0.1",
    port: int = 8765,
    db: str,
    options: EmulatorOptions,
    seed_file: str | None = None,
) -> None:
    """Serve the emulator (blocking) until interrupted."""
    emulator = build(db, options, seed_file)
    print(f"lorainfra emulator listening on http://{host}:{port} (db {db})", flush=True)
    try:
        uvicorn.Server(uvicorn_config(emulator.app, host=host, port=port)).run()
    finally:
        emulator.close()
