"""Loader: reads a config folder into a validated Config, or raises ConfigError with every problem found.

No network, no environment: the same folder always gives the same Config (or the same diagnostics).
"""

from __future__ import annotations

import hashlib
import os
import re
import stat
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
MAX_TOTAL_BYTES = 20 * 1024 * 1024  # all the config files of a folder together
ALLOW_OUTSIDE_LINKS_ENV = "LORAINFRA_ALLOW_OUTSIDE_LINKS"
MAIN_ONLY = ("provider", "state")
EXTENSION_PREFIX = "x-"
_PLAIN_KEY = re.compile(r"[A-Za-z_][A-Za-z0-9_-]{0,63}")  # a top-level key that may be quoted in an error

def config_files(root: str | os.PathLike[str]) -> list[str]:
    """The config entry names directly in ``root``: *.yaml and *.yml, sorted, no dotfiles.

    Every such entry is listed whatever it is (a link, a FIFO, a directory...): ``read_entry`` turns
    the ones that are not readable regular files into errors, so none is skipped silently.
    """
    folder = Path(root)
    try:
        entries = list(folder.iterdir())
    except OSError:
        return []
    return sorted(entry.name for entry in entries
                  if entry.name.endswith((".yaml", ".yml")) and not entry.name.startswith("."))


def outside_links_allowed(environ: Mapping[str, str]) -> bool:
    """Whether ``environ`` allows config entries that link outside the config folder."""
    return environ.get(ALLOW_OUTSIDE_LINKS_ENV, "").strip().lower() in ("1", "true", "yes")


def _digest(blobs: Mapping[str, bytes]) -> str:
    sha = hashlib.sha256()
    for name in sorted(blobs):
        data = blobs[name]
        sha.update(f"{name}\0{len(data)}\0".encode())
        sha.update(data)
    return sha.hexdigest()


def config_digest(root: str | os.PathLike[str], *, allow_outside_links: bool = False) -> str:
    """sha256 over the sorted (relative name, bytes) of the config files of ``root``.

    Reads as ``load_config`` does (never blocks on a FIFO); raises ConfigError if an entry is unreadable.
    """
    folder = Path(os.path.abspath(root))
    blobs: dict[str, bytes] = {}
    problems: list[Diagnostic] = []
    for name in config_files(folder):
        data, found = read_entry(folder, name, allow_outside_links=allow_outside_links)
        problems += found
        if data is not None:
            blobs[name] = data
    if problems:
        raise ConfigError(problems)
    return _digest(blobs)


def _kind(mode: int) -> str:
    if stat.S_ISDIR(mode):
        return "a directory"
    if stat.S_ISFIFO(mode):
        return "a named pipe (FIFO)"
    if stat.S_ISSOCK(mode):
        return "a socket"
    if stat.S_ISCHR(mode):
        return "a character device"
    if stat.S_ISBLK(mode):
        return "a block device"
    return "not a regular file"  # pragma: no cover - no other file types on POSIX


def read_entry(folder: Path, name: str, *, allow_outside_links: bool = False) -> tuple[bytes | None, list[Diagnostic]]:
    """The bytes of config entry ``name``, or a diagnostic naming it; never blocks, never skips.

    A link is followed only to a regular file inside the folder, unless ``allow_outside_links``:
    nothing outside the folder is opened (or even probed), so its content cannot reach an error.
    """
    path = folder / name
    span = Span(name)
    real = Path(os.path.realpath(path))
    if path.is_symlink() and not allow_outside_links and not real.is_relative_to(os.path.realpath(folder)):
        return None, [Diagnostic(span, f"{name} is a symbolic link to a file outside the config folder; lorainfra "
                                 "reads only files inside the folder", "copy the file into the config folder (or "
                                 f"set {ALLOW_OUTSIDE_LINKS_ENV}=1 to allow links that leave it)")]
    try:
        info = os.stat(real)
    except FileNotFoundError:
        try:
            target = os.readlink(path)
        except OSError:  # not a link: removed since the folder was listed
            return None, [Diagnostic(span, f"{name} was removed while the folder was being read", "run again")]
        return None, [Diagnostic(span, f"{name} is a symbolic link to {target}, which does not exist",
                                 f"fix or remove the link {name}; were it skipped, the plan would destroy what "
                                 "it declares")]
    except OSError as exc:
        return None, [Diagnostic(span, f"cannot read {name}: {exc.strerror or exc}",
                                 "check the file, its links and its permissions")]
    if not stat.S_ISREG(info.st_mode):
        kind = _kind(info.st_mode)
        noun = "a file" if kind == "a directory" else "a regular file"
        return None, [Diagnostic(span, f"{name} is {kind}, not {noun}",
                                 "config entries must be regular files: remove it, or rename it so that its name "
                                 "does not end in .yaml or .yml")]
    if info.st_size > MAX_FILE_BYTES:
        return None, [Diagnostic(span, f"{name} is {info.st_size / 1_048_576:.1f} MB; config files may be at most "
                                 f"{MAX_FILE_BYTES // 1_048_576} MB", "move data files out of the config folder")]
    try:
        fd = os.open(real, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_NOFOLLOW", 0))
        with os.fdopen(fd, "rb") as handle:
            opened = os.fstat(handle.fileno())
            if (opened.st_dev, opened.st_ino) != (info.st_dev, info.st_ino) or not stat.S_ISREG(opened.st_mode):
                return None, [Diagnostic(span, f"{name} was replaced while it was being read", "run again")]
            data = handle.read(MAX_FILE_BYTES + 1)
    except OSError as exc:
        return None, [Diagnostic(span, f"cannot read {name}: {exc.strerror or exc}", "check the file's permissions")]
    if len(data) > MAX_FILE_BYTES:  # grew while we read it
        return None, [Diagnostic(span, f"{name} is over {MAX_FILE_BYTES // 1_048_576} MB", "move data files out")]
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
    unnamed = [k for k in trimmed if k not in allowed and not _PLAIN_KEY.fullmatch(k)]
    for key in unnamed:
        del trimmed[key]
    if unnamed:  # the lines of a file that is not YAML config: name the file, never quote its content
        out.append(Diagnostic(doc.key_span((unnamed[0],)), f"{doc.file} does not look like a lorainfra config file: "
                              f"{len(unnamed)} top-level key(s) are not plain names (not shown)",
                              "a config file holds provider:, state:, deployments:, loras: and x-... keys; move "
                              "other files out of the folder, or rename them so they do not end in .yaml or .yml"))
    for key in sorted(k for k in trimmed if k not in allowed):
        del trimmed[key]
        out.append(Diagnostic(doc.key_span((key,)), f"unknown top-level key {key!r} in {doc.file}",
                              join_hint(did_you_mean(key, allowed), f"allowed keys: {', '.join(allowed)} "
                                        f"(and any key starting with '{EXTENSION_PREFIX}', for shared anchors)")))
    return trimmed, out


def _collect(docs: list[Document], root: str) -> tuple[dict[Address, Decl], list[Decl], list[Diagnostic]]:
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
                decl = Decl(kind, name, body, doc, section, root)
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


def load_config(root: str | os.PathLike[str], *, allow_outside_links: bool = False) -> Config:
    """Read, validate and model the config folder ``root``; ConfigError lists every problem found.

    ``allow_outside_links``: follow config entries that are links to files outside the folder (the CLI
    sets it from LORAINFRA_ALLOW_OUTSIDE_LINKS); by default they are errors.
    """
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
    total = 0
    for name in names:
        data, problems = read_entry(folder, name, allow_outside_links=allow_outside_links)
        diagnostics += problems
        total += len(data or b"")
        if total > MAX_TOTAL_BYTES:
            diagnostics.append(Diagnostic(Span(name), f"the config files add up to more than "
                                          f"{MAX_TOTAL_BYTES // 1_048_576} MB (reading stopped at {name})",
                                          "move data files out of the config folder"))
            complete = False
            break
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
    declared, every, problems = _collect(docs, str(folder))
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
    if main is None or any(d.severity == "error" for d in diagnostics):
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
        warnings=tuple(sorted(set(diagnostics))),
    )
