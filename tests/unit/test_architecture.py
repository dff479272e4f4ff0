"""Architecture rules that a linter does not check: no code outside lorainfra/kinds branches on a kind's
name, and every CLI module can be imported on its own (no import cycle through the command registry)."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

from lorainfra.kinds.registry import KINDS

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "lorainfra"
# the kinds hold all kind knowledge; the emulator is the server's side of the wire (it speaks of
# deployments and deployedModels as Fireworks does, not of lorainfra's kinds)
EXEMPT = ("kinds", "emulator", "probe.py")  # probe.py checks the wire contract itself, as the emulator serves it


def kind_words() -> frozenset[str]:
    """Every name a kind is known by: its address prefix, its config section, its API collection."""
    return frozenset(word for k in KINDS.values() for word in (k.name, k.section, k.collection))


def kind_literals(source: str, words: frozenset[str]) -> list[int]:
    """Lines where a string literal that is exactly a kind's name is used (compared, keyed, passed...)."""
    return sorted({node.lineno for node in ast.walk(ast.parse(source))
                   if isinstance(node, ast.Constant) and isinstance(node.value, str) and node.value in words})


def offenders(package: Path, words: frozenset[str]) -> list[str]:
    found = []
    for path in sorted(package.rglob("*.py")):
        relative = path.relative_to(package)
        if relative.parts[0] in EXEMPT:
            continue
        found += [f"lorainfra/{relative}:{line}" for line in kind_literals(path.read_text(), words)]
    return found


def test_no_code_outside_kinds_names_a_kind() -> None:
    assert offenders(PACKAGE, kind_words()) == []


@pytest.mark.parametrize(("source", "lines"), [
    ('if kind == "deployment":\n    pass\n', [1]),
    ('x = {"lora": 1}\n', [1]),
    ('path = "deployedModels"\n', [1]),
    ('if kind in ("loras", "other"):\n    pass\n', [1]),
    ('msg = f"a {kind} named deployment.x"\n', []),  # prose and addresses are not a kind's name
    ('kind = spec.name\n', []),
])
def test_the_check_sees_a_kind_literal(source: str, lines: list[int]) -> None:
    assert kind_literals(source, frozenset({"deployment", "lora", "loras", "deployedModels"})) == lines


CLI_MODULES = sorted(p.stem for p in (PACKAGE / "cli").glob("*.py") if p.stem != "__init__")


@pytest.mark.parametrize("module", CLI_MODULES)
def test_every_cli_module_imports_first_and_alone(module: str) -> None:
    done = subprocess.run([sys.executable, "-c", f"import lorainfra.cli.{module}"], cwd=ROOT,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr


def test_an_unknown_kind_is_refused_not_treated_as_another() -> None:
    """Before the registry, anything not "deployment" was sent to deployedModels as a LoRA."""
    import asyncio

    from lorainfra.kinds.registry import kind_of
    from lorainfra.providers.fireworks import FireworksProvider

    with pytest.raises(KeyError, match="unknown resource kind 'dataset'; known kinds: deployment, model, lora"):
        kind_of("dataset")

    async def create() -> None:
        provider = FireworksProvider(account="acme", api_key="k", base_url="http://127.0.0.1:9")
        try:
            await provider.create("dataset", "m", {})
        finally:
            await provider.aclose()

    with pytest.raises(KeyError, match="unknown resource kind"):
        asyncio.run(create())
