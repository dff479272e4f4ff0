"""Coloured plans on a terminal (Terraform's colours), plain with --no-color, NO_COLOR or no terminal."""

from __future__ import annotations

import os
import pty
import subprocess
from pathlib import Path

from lorainfra.cli.colour import paint_plan, wants_colour
from lorainfra.cli.render import render_plan
from tests.e2e.helpers import BIN, cli
from tests.ecosystem.goldens import check_golden
from tests.ecosystem.test_graph import every_action_plan


def plan_text() -> str:
    plan = every_action_plan()
    return render_plan(plan)


def test_coloured_plan_golden() -> None:
    check_golden("plan-colour.txt", paint_plan(plan_text()))


def test_no_color_plan_golden() -> None:
    check_golden("plan-no-color.txt", plan_text())
    assert "\x1b[" not in plan_text()


def test_colours_are_terraforms() -> None:
    painted = paint_plan("  + deployment \"a\" {\n  ~ x\n  - y\n-/+ lora \"b\" {")
    assert painted.splitlines() == ["  \x1b[32m+\x1b[0m deployment \"a\" {", "  \x1b[33m~\x1b[0m x",
                                    "  \x1b[31m-\x1b[0m y", "\x1b[31m-\x1b[0m/\x1b[32m+\x1b[0m lora \"b\" {"]


class Tty:
    def isatty(self) -> bool:
        return True


def test_when_to_colour() -> None:
    assert wants_colour(Tty(), {}) is True
    assert wants_colour(Tty(), {"NO_COLOR": "1"}) is False
    assert wants_colour(Tty(), {"NO_COLOR": ""}) is True  # no-color.org: only a non-empty value counts
    with open(os.devnull, "w") as devnull:
        assert wants_colour(devnull, {}) is False


def on_terminal(*args: str, env: dict[str, str] | None = None) -> str:
    """Run the CLI with stdout on a pseudo-terminal; everything it printed there."""
    main, sub = pty.openpty()
    full_env = {k: v for k, v in os.environ.items() if k not in ("NO_COLOR", "FORCE_COLOR")}
    full_env.update(env or {})
    proc = subprocess.Popen([str(BIN), *args], stdout=sub, stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL,
                            env=full_env)
    os.close(sub)
    chunks = []
    while True:
        try:
            data = os.read(main, 65536)
        except OSError:  # EIO: the other end closed
            break
        if not data:
            break
        chunks.append(data)
    os.close(main)
    assert proc.wait(timeout=120) == 0
    return b"".join(chunks).decode()


def test_saved_plan_is_coloured_on_a_terminal_only(quickstart: Path, tmp_path: Path) -> None:
    planfile = tmp_path / "plan.bin"
    assert cli("plan", str(quickstart), "--out", str(planfile)).code == 0
    coloured = on_terminal("show", str(planfile))
    assert "\x1b[32m+\x1b[0m deployment" in coloured
    assert "\x1b[" not in on_terminal("show", str(planfile), env={"NO_COLOR": "1"})
    assert "\x1b[" not in on_terminal("--no-color", "show", str(planfile))
    assert "\x1b[" not in on_terminal("show", str(planfile), "--no-color")
    piped = cli("show", str(planfile))
    assert piped.code == 0 and "\x1b[" not in piped.out and "+ deployment" in piped.out
