"""Command: ``lorainfra fmt [--check] [--diff] [PATH...]`` (canonical layout of config files)."""

from __future__ import annotations

import difflib
import sys
from pathlib import Path
from typing import Annotated

import typer

from lorainfra.errors import Diagnostic, Span

# like `terraform fmt -check`: 0 everything is formatted, 3 some files are not, 1 a file cannot be read
EXIT_UNFORMATTED = 3


def _collect(paths: list[str]) -> tuple[list[tuple[Path, str, str]], list[Diagnostic]]:
    """(path, original, formatted) of every config file named or in a named folder, and the problems."""
    from lorainfra.config.fmt import FormatError, format_folder, format_text

    found: list[tuple[Path, str, str]] = []
    problems: list[Diagnostic] = []
    for given in paths:
        path = Path(given)
        if path.is_dir():
            files, errors = format_folder(path)
            found += [(path / f.name, f.original, f.formatted) for f in files]
            problems += [Diagnostic(Span(str(path / d.span.file), d.span.line, d.span.col), d.message, d.hint)
                         for d in errors]
        elif path.is_file():
            try:
                text = path.read_text(encoding="utf-8")
                found.append((path, text, format_text(text, str(path))))
            except (OSError, UnicodeDecodeError) as exc:
                problems.append(Diagnostic(Span(str(path)), f"cannot read {path}: {exc}",
                                           "check the file's permissions and encoding"))
            except FormatError as exc:
                problems.append(exc.diagnostic)
        else:
            problems.append(Diagnostic(Span(str(path)), f"{path}: no such file or folder",
                                       "pass a config folder (or config files)"))
    return found, problems


def fmt(
    paths: Annotated[list[str] | None, typer.Argument(help="Config folders or files (default: the current folder).")] = None,
    check: Annotated[bool, typer.Option("--check", help="Change nothing; list unformatted files and exit 3 if any.")] = False,
    diff: Annotated[bool, typer.Option("--diff", help="Print a unified diff of the changes.")] = False,
) -> None:
    """Rewrite config files in canonical layout: key order, 2-space indentation, quoting. Comments are kept."""
    found, problems = _collect(paths or ["."])
    if problems:  # change nothing when any file cannot be read: fix it first
        for d in sorted(problems):
            sys.stderr.write(d.render() + "\n")
        sys.stderr.write(f"{len(problems)} file(s) could not be formatted; nothing was changed.\n")
        raise typer.Exit(1)
    changed = [(path, before, after) for path, before, after in found if before != after]
    for path, before, after in changed:
        print(path)
        if diff:
            sys.stdout.writelines(difflib.unified_diff(
                before.splitlines(keepends=True), after.splitlines(keepends=True), f"{path} (before)", f"{path}"))
        if not check:
            path.write_text(after, encoding="utf-8")
    if check and changed:
        sys.stderr.write(f"{len(changed)} file(s) are not formatted: run `lorainfra fmt` to fix them.\n")
        raise typer.Exit(EXIT_UNFORMATTED)
