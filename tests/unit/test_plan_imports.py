"""What a plan imports: heavy libraries only when they are used (issue 16: start-up is part of every plan)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_loading_a_config_and_planning_do_not_import_networkx() -> None:
    """networkx only describes a dependency cycle (and renders `lorainfra graph`); a plan without a cycle never
    needs it (about 0.1 s of CPU to import)."""
    code = ("import sys\n"
            "import lorainfra.cli.commands, lorainfra.config.loader, lorainfra.engine.planner, lorainfra.engine.session\n"
            "import lorainfra.providers.fireworks, lorainfra.state.local, lorainfra.cli.console\n"
            "from lorainfra.config.checks import cycles\n"
            "print('networkx' in sys.modules)\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False", out.stderr


def test_loading_a_valid_config_does_not_import_jsonschema() -> None:
    """jsonschema explains errors; a valid config is checked by the compiled predicate (config/fastschema.py)."""
    code = ("import sys\n"
            "from lorainfra.config.loader import load_config\n"
            "config = load_config('examples/quickstart')\n"
            "print(len(config.resources), 'jsonschema' in sys.modules)\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT)
    assert out.stdout.split() == ["5", "False"], out.stderr
