"""Loader: reads a config folder into a validated Config, or raises ConfigError with every problem found.

No network, no environment: the same folder always gives the same Config (or the same diagnostics).
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Mapping
from pathlib import Path
from types import MappingProxyType
from typing import Any

from lorainfra.addresses import Address
from lorainfra.config import checks, settings
from lorainfra.config.decl import Decl
from lorainfra.config.hints import did_you_mean, join_hint
from lorainfra.config.model import Config, Lifecycle, Resource, frozen_mapping
from lorainfra.config.schema import load_schema, schema_diagnostics
from lorainfra.config.yamlsource import Document, decode, parse_yaml
from lorainfra.errors import ConfigError, Diagnostic, Span
from lorainfra.kinds.registry import KINDS, kind_of

MAIN_FILE = "lorainfra.yaml"
MAX_FILE_BYTES = 5 * 1024 * 1024
MAIN_ONLY = ("provider", "state")
EXTENSION_PREFIX = "x-"

def config_files(root: str | os.PathLike[str]) -> list[str]:
    """The config file names directly in ``root``: *.yaml and *.yml, sorted, no dotfiles."""
    folder = Path(root)
    try:
        entries = list(folder.iterdir())
    except OSError:
        return []
    return sorted(
        entry.name for entry in entries
        if entry.name.endswith((".yaml", ".yml")) and not entry.name.startswith(".") and entry.is_file()
    )


def _digest(blobs: Mapping[str, bytes]) -> str:
    sha = hashlib.sha256()
    for name in sorted(blobs):
        data = blobs[name]
        sha.update(f"{name}\0{len(data)}\0".encode())
        sha.update(data)
    return sha.hexdigest()


def config_digest(root: str | os.PathLike[str]) -> str:
    """sha256 over the sorted (relative name, bytes) of the config files of ``root``."""
    folder = Path(root)
    return _digest({name: (folder / name).read_bytes() for name in config_files(folder)})


def _read(folder: Path, name: str) -> tuple[bytes | None, list[Diagnostic]]:
    path = folder / name
    try:
        size = path.stat().st_size
        if size > MAX_FILE_BYTES:
            return None, [Diagnostic(Span(name), f"{name} is {size / 1_048_576:.1f} MB; config files may be at most "
                                     f"{MAX_FILE_BYTES // 1_048_576} MB", "move data files out of the config folder")]
        with path.open("rb") as handle:
            data = handle.read(MAX_FILE_BYTES + 1)
    except OSError as exc:
        return None, [Diagnostic(Span(name), f"cannot read {name}: {exc.strerror or exc}", "check the file's permissions")]
    if len(data) > MAX_FILE_BYTES:  # grew while we read it
        return None, [Diagnostic(Span(name), f"{name} is over {MAX_FILE_BYTES // 1_048_576} MB", "move data files out")]
    return data, []


def _parse(name: str, data: bytes) -> tuple[Document | None, list[Diagnostic]]:
    text, problems = decode(data, name)
    if text is None:
        return None, problems
    try:
        return parse_yaml(text, name)
    except Exception as exc:  # last resort: a traceback on bad input is a bug; report it as one
        return None, [Diagnostic(Span(name, 1, 1), f"internal error while reading {name}: {type(exc).__name__}: {exc}",
                                 "this is a lorainfra bug; please report it with this file")]


def _top_level(doc: Document) -> tuple[dict[str, Any], list[Diagnostic]]:
    """The part of a file the schema validates, and problems with its top level."""
    out: list[Diagnostic] = []
    data = doc.data
    if data is None:
        if doc.file == MAIN_FILE:
            out.append(Diagnostic(Span(doc.file, 1, 1), f"{MAIN_FILE} is empty: missing provider",
                                  "add at least 'provider: {endpoint: local}' (or 'provider: {account: ID}')"))
        return {}, out
    if not isinstance(data, dict):
        out.append(Diagnostic(doc.span(()), f"the top level of {doc.file} must be a mapping (provider:, state:, "
                              f"deployments:, loras:), not {'a list' if isinstance(data, list) else 'a value'}",
                              "start the file with 'deployments:' or 'loras:' at column 1"))
        return {}, out
    trimmed = dict(data)
    if doc.file == MAIN_FILE:
        if "provider" not in data:
            out.append(Diagnostic(Span(doc.file, 1, 1), f"{MAIN_FILE} is missing provider",
                                  "add 'provider:' with at least endpoint: local or account: ID"))
    else:
        for key in MAIN_ONLY:
            if key in data:
                del trimmed[key]
                out.append(Diagnostic(doc.key_span((key,)), f"{key}: is only allowed in {MAIN_FILE}",
                                      f"move the {key}: section to {MAIN_FILE}"))
    allowed = sorted(load_schema()["properties"])
    for key in [k for k in data if k.startswith(EXTENSION_PREFIX)]:
        del trimmed[key]  # x-...: free-form, a home for YAML anchors shared by several resources
    for key in sorted(k for k in trimmed if k not in allowed):
        del trimmed[key]
        out.append(Diagnostic(doc.key_span((key,)), f"unknown top-level key {key!r} in {doc.file}",
                              join_hint(did_you_mean(key, allowed), f"allowed keys: {', '.join(allowed)} "
                                        f"(and any key starting with '{EXTENSION_PREFIX}', for shared anchors)")))
    return trimmed, out


def _collect(docs: list[Document]) -> tuple[dict[Address, Decl], list[Decl], list[Diagnostic]]:
    """Declarations by address (first wins), all declarations, and duplicate-name problems."""
    first: dict[Address, Decl] = {}
    every: list[Decl] = []
    out: list[Diagnostic] = []
    for doc in docs:
        if not isinstance(doc.data, dict):
            continue
        for kind, section in ((k.name, k.section) for k in KINDS.values()):
            bodies = doc.data.get(section)
            if not isinstance(bodies, dict):
                continue
            for name, body in bodies.items():
                decl = Decl(kind, name, body, doc, section)
                every.append(decl)
                if decl.address in first:
                    out.append(Diagnostic(decl.key_span, f"{kind} {name!r} is declared twice; first declared at "
                                          f"{first[decl.address].key_span}", "rename or remove one of them"))
                else:
                    first[decl.address] = decl
    return first, every, out


def _resource(decl: Decl, depends_on: list[Address]) -> Resource:
    kind = kind_of(decl.kind)
    values, spans = kind.values(decl)
    table = kind.ignore_paths()
    ignored = sorted({name for entry in decl.get("lifecycle", "ignore_changes") or [] for name in table[entry]})
    return Resource(
        address=decl.address,
        attributes=frozen_mapping(values),
        span=decl.key_span,
        depends_on=tuple(sorted(set(depends_on))),
        attribute_spans=frozen_mapping(spans),
        lifecycle=Lifecycle(prevent_destroy=decl.get("lifecycle", "prevent_destroy") is True,
                            ignore_changes=tuple(ignored)),
    )


def load_config(root: str | os.PathLike[str]) -> Config:
    """Read, validate and model the config folder ``root``; ConfigError lists every problem found."""
    folder = Path(os.path.abspath(root))
    names = config_files(folder)
    if MAIN_FILE not in names:
        hint = "run lorainfra in a config folder or pass its path"
        if folder.is_file():
            hint = f"pass the folder that holds the config files, e.g. {folder.parent}"
        elif "lorainfra.yml" in names:
            hint = "rename lorainfra.yml to lorainfra.yaml"
        raise ConfigError([Diagnostic(Span(MAIN_FILE), f"no {MAIN_FILE} in {folder}", hint)])
    diagnostics: list[Diagnostic] = []
    blobs: dict[str, bytes] = {}
    docs: list[Document] = []
    complete = True
    for name in names:
        data, problems = _read(folder, name)
        diagnostics += problems
        doc = None
        if data is not None:
            blobs[name] = data
            doc, problems = _parse(name, data)
            diagnostics += problems
        if doc is None:
            complete = False
            continue
        trimmed, problems = _top_level(doc)
        diagnostics += problems + schema_diagnostics(doc, trimmed)
        docs.append(doc)
    main = next((doc for doc in docs if doc.file == MAIN_FILE), None)
    if main is not None:
        diagnostics += settings.check_provider(main) + settings.check_state(main)
    declared, every, problems = _collect(docs)
    diagnostics += problems
    dependencies: dict[Address, list[Address]] = {}
    ctx = checks.context(declared, complete)
    for decl in every:
        diagnostics += checks.check_declaration(decl, ctx)
        found, problems = checks.explicit_dependencies(decl, declared, complete)
        diagnostics += problems
        if declared.get(decl.address) is decl:
            dependencies[decl.address] = found + checks.implied_dependencies(decl, ctx)
    if complete:
        diagnostics += checks.check_limits(ctx)
    diagnostics += checks.cycles(dependencies, {a: d.key_span for a, d in declared.items()})
    if diagnostics or main is None:
        raise ConfigError(sorted(set(diagnostics)))
    resources = {address: _resource(declared[address], dependencies[address])
                 for address in sorted(declared, key=lambda a: (a.kind, a.name))}
    return Config(
        root=str(folder),
        provider=settings.provider_settings(main),
        state=settings.state_settings(main),
        resources=MappingProxyType(resources),
        files=tuple(names),
        digest=_digest(blobs),
    )
