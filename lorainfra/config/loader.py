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
from lorainfra.config import checks, environments, settings
from lorainfra.config.decl import Decl
from lorainfra.config.environments import Selection
from lorainfra.config.hints import did_you_mean, join_hint
from lorainfra.config.model import Config, Lifecycle, Resource, frozen_mapping
from lorainfra.config.moves import collect_moves
from lorainfra.config.overlay import OVERLAY_DIR, apply_overlays
from lorainfra.config.schema import load_schema, schema_diagnostics
from lorainfra.config.variables import SKIP, Resolver, substitute_document
from lorainfra.config.yamlsource import Document, decode, parse_yaml
from lorainfra.errors import ConfigError, Diagnostic, Span
from lorainfra.kinds.base import DeclContext
from lorainfra.kinds.registry import KINDS, kind_of

MAIN_FILE = "lorainfra.yaml"
MAX_FILE_BYTES = 5 * 1024 * 1024
MAX_TOTAL_BYTES = 20 * 1024 * 1024  # all the config files of a folder together
ALLOW_OUTSIDE_LINKS_ENV = "LORAINFRA_ALLOW_OUTSIDE_LINKS"
MAIN_ONLY = ("provider", "state", "environments", "variables")
EXTENSION_PREFIX = "x-"
SELECTION_BLOB = "\0selection"  # the environment and variable values, part of the digest
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


def read_entry(folder: Path, name: str, *, allow_outside_links: bool = False,
               label: str = "") -> tuple[bytes | None, list[Diagnostic]]:
    """The bytes of config entry ``name``, or a diagnostic naming it (``label`` + ``name``); never blocks, never
    skips.

    A link is followed only to a regular file inside the folder, unless ``allow_outside_links``:
    nothing outside the folder is opened (or even probed), so its content cannot reach an error.
    """
    path = folder / name
    name = label + name  # as messages show it
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


def _top_level(doc: Document, is_main: bool) -> tuple[dict[str, Any], list[Diagnostic]]:
    """The part of a file the schema validates, and problems with its top level."""
    out: list[Diagnostic] = []
    data = doc.data
    if data is None:
        if is_main:
            out.append(Diagnostic(Span(doc.file, 1, 1), f"{MAIN_FILE} is empty: missing provider",
                                  "add at least 'provider: {endpoint: local}' (or 'provider: {account: ID}')"))
        return {}, out
    if not isinstance(data, dict):
        out.append(Diagnostic(doc.span(()), f"the top level of {doc.file} must be a mapping (provider:, state:, "
                              f"deployments:, loras:), not {'a list' if isinstance(data, list) else 'a value'}",
                              "start the file with 'deployments:' or 'loras:' at column 1"))
        return {}, out
    trimmed = dict(data)
    if is_main:
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
    names: dict[tuple[str, str], Span] = {}  # (kind, name as declared): where
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
                whole = Decl(kind, name, body, doc, section, root)
                items, problems = kind_of(kind).expand(whole)
                every += items
                if (kind, name) in names:
                    out.append(Diagnostic(whole.key_span, f"{kind} {name!r} is declared twice; first declared "
                                          f"at {names[kind, name]}", "rename or remove one of them"))
                    continue
                names[kind, name] = whole.key_span
                out += problems
                first.update((decl.address, decl) for decl in items)
    return first, every, out


def _resource(decl: Decl, depends_on: list[Address], ctx: DeclContext) -> Resource:
    kind = kind_of(decl.kind)
    values, spans = ctx.values(decl, kind)
    entries = decl.get("lifecycle", "ignore_changes") or []
    table = kind.ignore_paths() if entries else {}
    ignored = sorted({name for entry in entries for name in table[entry]})
    return Resource(
        address=decl.address,
        attributes=frozen_mapping(values),
        span=decl.key_span,
        depends_on=tuple(sorted(set(depends_on))),
        attribute_spans=frozen_mapping(spans),
        lifecycle=Lifecycle(prevent_destroy=decl.get("lifecycle", "prevent_destroy") is True,
                            adopt=decl.get("lifecycle", "adopt") is not False,
                            ignore_changes=tuple(ignored)),
    )


def overlay_files(root: str | os.PathLike[str], env: str) -> list[str]:
    """The overlay entries of environment ``env``: ``env/ENV/*.yaml`` (and .yml), relative to ``root``, sorted."""
    return [f"{OVERLAY_DIR}/{env}/{name}" for name in config_files(Path(root) / OVERLAY_DIR / env)]


def _overlay_dirs(folder: Path, names: list[str], label: str) -> list[Diagnostic]:
    """An env/NAME/ folder for an environment that is not declared is an error (a typo would be ignored)."""
    try:
        found = sorted(entry.name for entry in (folder / OVERLAY_DIR).iterdir() if not entry.name.startswith("."))
    except OSError:
        return []
    return [Diagnostic(Span(f"{label}{OVERLAY_DIR}/{name}/"), f"overlay folder {OVERLAY_DIR}/{name}/ is for an environment "
                       f"that {MAIN_FILE} does not declare",
                       join_hint(did_you_mean(name, names), "declare it under environments:, or rename the folder"))
            for name in found if name not in names]


def _read_docs(folder: Path, names: list[str], allow: bool, total: int, diagnostics: list[Diagnostic],
               blobs: dict[str, bytes], label: str) -> tuple[list[Document], bool, int]:
    """Read and parse ``names`` (relative to ``folder``; named ``label`` + name in messages); (documents, all
    read, bytes so far)."""
    docs: list[Document] = []
    complete = True
    for name in names:
        data, problems = read_entry(folder, name, allow_outside_links=allow, label=label)
        diagnostics += problems
        total += len(data or b"")
        if total > MAX_TOTAL_BYTES:
            diagnostics.append(Diagnostic(Span(label + name), f"the config files add up to more than "
                                          f"{MAX_TOTAL_BYTES // 1_048_576} MB (reading stopped at {label + name})",
                                          "move data files out of the config folder"))
            return docs, False, total
        doc = None
        if data is not None:
            blobs[name] = data
            doc, problems = _parse(label + name, data)
            diagnostics += problems
        if doc is None:
            complete = False
            continue
        docs.append(doc)
    return docs, complete, total


def _selected(main: Document | None, docs: list[Document], folder: Path, selection: Selection, allow: bool,
              diagnostics: list[Diagnostic], blobs: dict[str, bytes], total: int, label: str) -> tuple[bool, bool]:
    """Check the environment selection, merge its overlays and substitute variables.

    Returns (every overlay was read, this step found errors: later checks would only repeat them).
    """
    if main is None:
        return True, False
    problems = environments.check_selection(main, selection)
    own = problems + environments.check_states(main) + _overlay_dirs(folder, environments.declared(main), label)
    complete = True
    if not problems and selection.env is not None:
        overlays, complete, total = _read_docs(folder, overlay_files(folder, selection.env), allow, total,
                                               diagnostics, blobs, label)
        own += apply_overlays(docs, overlays, tuple(k.section for k in KINDS.values()))
    resolver = Resolver(main, selection if not problems else Selection(vars=selection.vars))
    for doc in docs:
        substitute_document(doc, resolver, SKIP if doc is main else ())
    resolver.check_all()
    own += resolver.diagnostics
    diagnostics += own
    if selection.env is not None or resolver.values:
        blobs[SELECTION_BLOB] = f"{selection.env}\0{sorted(resolver.values.items())!r}".encode()
    return complete, any(d.severity == "error" for d in own)


def shown_prefix(typed: str | os.PathLike[str]) -> str:
    """How messages name the files of the folder ``typed``: ``infra/prod/`` for ``infra/prod`` or
    ``./infra/prod/``, ``/abs/dir/`` for an absolute path, nothing for ``.`` (the current folder)."""
    text = os.path.normpath(os.fspath(typed))
    if text == ".":
        return ""
    return text if text.endswith("/") else text + "/"


def load_config(root: str | os.PathLike[str], *, allow_outside_links: bool = False,
                selection: Selection | None = None, shown: str | os.PathLike[str] | None = None) -> Config:
    """Read, validate and model the config folder ``root``; ConfigError lists every problem found.

    ``allow_outside_links``: follow config entries that are links to files outside the folder (the CLI
    sets it from LORAINFRA_ALLOW_OUTSIDE_LINKS); by default they are errors.
    ``selection``: the environment and ``--var`` values (docs/config.md, "Environments"); the overlays of
    the environment are merged and ``${var.NAME}`` substituted before anything is checked.
    ``shown``: the folder as messages name it, usually as the user typed it (the CLI passes its argument):
    ``infra/prod`` gives ``infra/prod/loras.yaml:11:17``; by default the files are named relative to the folder.
    """
    label = shown_prefix(shown) if shown is not None else ""
    selection = selection or Selection()
    folder = Path(os.path.abspath(root))
    names = config_files(folder)
    if MAIN_FILE not in names:
        hint = "run lorainfra in a config folder or pass its path"
        if folder.is_file():
            hint = f"pass the folder that holds the config files, e.g. {folder.parent}"
        elif "lorainfra.yml" in names:
            hint = "rename lorainfra.yml to lorainfra.yaml"
        raise ConfigError([Diagnostic(Span(label + MAIN_FILE), f"no {MAIN_FILE} in {folder}", hint)])
    diagnostics: list[Diagnostic] = []
    blobs: dict[str, bytes] = {}
    docs, complete, total = _read_docs(folder, names, allow_outside_links, 0, diagnostics, blobs, label)
    main = next((doc for doc in docs if doc.file == label + MAIN_FILE), None)
    read_all, stop = _selected(main, docs, folder, selection, allow_outside_links, diagnostics, blobs, total, label)
    complete = complete and read_all
    if stop:
        raise ConfigError(sorted(set(diagnostics)))
    for doc in docs:
        trimmed, problems = _top_level(doc, doc is main)
        diagnostics += problems + schema_diagnostics(doc, trimmed)
    if main is not None:
        diagnostics += settings.check_provider(main) + settings.check_state(main)
    declared, every, problems = _collect(docs, str(folder))
    diagnostics += problems
    dependencies: dict[Address, list[Address]] = {}
    ctx = checks.context(declared, complete, settings.limits(main))
    found_in_decls: list[Diagnostic] = []
    for decl in every:
        found_in_decls += checks.check_declaration(decl, ctx)
        found, problems = checks.explicit_dependencies(decl, declared, complete)
        diagnostics += problems
        if declared.get(decl.address) is decl:
            dependencies[decl.address] = found + checks.implied_dependencies(decl, ctx)
    diagnostics += checks.fold_items(found_in_decls)
    if complete:
        diagnostics += checks.check_limits(ctx)
    diagnostics += checks.cycles(dependencies, {a: d.key_span for a, d in declared.items()})
    moves, problems = collect_moves(docs, declared, complete)
    diagnostics += problems
    if main is None or any(d.severity == "error" for d in diagnostics):
        raise ConfigError(sorted(set(diagnostics)))
    resources = {address: _resource(declared[address], dependencies[address], ctx)
                 for address in sorted(declared, key=lambda a: (a.kind, a.name))}
    env = selection.env
    return Config(
        root=str(folder),
        provider=environments.provider_for(settings.provider_settings(main), main, env),
        state=environments.state_for(settings.state_settings(main), main, env),
        resources=MappingProxyType(resources),
        files=tuple(sorted(n for n in blobs if n != SELECTION_BLOB)),
        digest=_digest(blobs),
        warnings=tuple(sorted(set(diagnostics))),
        moves=moves,
        environment=env,
    )


def load_settings(root: str | os.PathLike[str], *, allow_outside_links: bool = False,
                  selection: Selection | None = None, shown: str | os.PathLike[str] | None = None) -> Config | None:
    """A quick look at ``lorainfra.yaml`` alone: the provider and state settings ``load_config`` would give
    (the environment's overlays and variables applied), in a Config without resources; None when anything in
    it needs the whole folder or is wrong (``load_config`` then reports it). A guess that lets a plan start its
    refresh while the rest of the config loads: whoever uses it compares it with the loaded Config."""
    label = shown_prefix(shown) if shown is not None else ""
    selection = selection or Selection()
    folder = Path(os.path.abspath(root))
    diagnostics: list[Diagnostic] = []
    blobs: dict[str, bytes] = {}
    try:
        docs, complete, total = _read_docs(folder, [MAIN_FILE], allow_outside_links, 0, diagnostics, blobs, label)
        main = docs[0] if docs else None
        if main is None or not complete:
            return None
        read_all, stop = _selected(main, docs, folder, selection, allow_outside_links, diagnostics, blobs, total,
                                   label)
        diagnostics += settings.check_provider(main) + settings.check_state(main)
        if stop or not read_all or any(d.severity == "error" for d in diagnostics):
            return None
        return Config(root=str(folder), resources=MappingProxyType({}), environment=selection.env,
                      provider=environments.provider_for(settings.provider_settings(main), main, selection.env),
                      state=environments.state_for(settings.state_settings(main), main, selection.env))
    except (ConfigError, OSError, ValueError):
        return None
