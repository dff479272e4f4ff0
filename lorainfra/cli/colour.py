"""Colour: Terraform's plan colours on a terminal (``+`` green, ``~`` yellow, ``-`` red, ``-/+`` and ``+/-`` both).

``paint_plan`` is pure (text in, text out); ``wants_colour`` is the one rule for when to use it: a
terminal, and neither ``--no-color`` (which sets NO_COLOR for the whole run) nor NO_COLOR set.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from typing import TextIO

RESET = "\x1b[0m"
BOLD = "\x1b[1m"
RED = "\x1b[31m"
GREEN = "\x1b[32m"
YELLOW = "\x1b[33m"

_SYMBOL = re.compile(r"^(\s*)(-/\+|\+/-|\+|~|-|!)(\s)")
_PAINT = {"+": GREEN + "+" + RESET, "~": YELLOW + "~" + RESET, "-": RED + "-" + RESET,
          "-/+": RED + "-" + RESET + "/" + GREEN + "+" + RESET, "+/-": GREEN + "+" + RESET + "/" + RED + "-" + RESET,
          "!": YELLOW + "!" + RESET}
_FORCES = " # forces replacement"


def paint_line(line: str) -> str:
    if line.lstrip().startswith("# "):  # a resource's headline
        return BOLD + line + RESET
    if line.startswith(("Plan: ", "No changes.")):
        return BOLD + line + RESET
    line = _SYMBOL.sub(lambda m: m.group(1) + _PAINT[m.group(2)] + m.group(3), line, count=1)
    if line.endswith(_FORCES):
        line = line[: -len(_FORCES)] + " " + RED + _FORCES.strip() + RESET
    return line


def paint_plan(text: str) -> str:
    """A Terraform-style text plan (lorainfra.cli.render) with its symbols coloured."""
    return "\n".join(paint_line(line) for line in text.split("\n"))


def wants_colour(stream: TextIO, environ: Mapping[str, str] | None = None) -> bool:
    env = os.environ if environ is None else environ
    if env.get("NO_COLOR"):  # https://no-color.org: set and not empty
        return False
    isatty = getattr(stream, "isatty", None)
    return bool(isatty and isatty())


def plan_for(stream: TextIO, text: str) -> str:
    return paint_plan(text) if wants_colour(stream) else text
