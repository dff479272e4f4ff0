"""lorainfra graph: dependency graph of a config or a saved plan, DOT and mermaid, golden-tested."""

from __future__ import annotations

from pathlib import Path

import pytest

from lorainfra.graph_render import graph_of_plan, render_dot, render_graph, render_mermaid
from lorainfra.plan.model import Action, Change, Plan
from tests.conftest import EXAMPLES
from tests.e2e.helpers import cli
from tests.ecosystem.goldens import check_golden


def every_action_plan() -> Plan:
    return Plan(changes=(
        Change("deployment.base", "deployment", Action.UPDATE),
        Change("deployment.fresh", "deployment", Action.CREATE),
        Change("deployment.gone", "deployment", Action.DELETE),
        Change("deployment.same", "deployment", Action.NOOP),
        Change("lora.bot", "lora", Action.REPLACE, depends_on=("deployment.base",)),
        Change("lora.new", "lora", Action.CREATE, depends_on=("deployment.fresh",)),
        Change("lora.old", "lora", Action.DELETE, depends_on=("deployment.gone",)),
        Change("lora.kept", "lora", Action.NOOP, depends_on=("deployment.same", "deployment.absent")),
    ))


def test_plan_graph_dot_golden() -> None:
    check_golden("graph-actions.dot", render_dot(graph_of_plan(every_action_plan())))


def test_plan_graph_mermaid_golden() -> None:
    check_golden("graph-actions.mmd", render_mermaid(graph_of_plan(every_action_plan())))


def test_edges_only_between_known_nodes_and_sorted() -> None:
    graph = graph_of_plan(every_action_plan())
    names = {n.address for n in graph.nodes}
    assert all(a in names and b in names for a, b in graph.edges)
    assert list(graph.edges) == sorted(graph.edges)
    assert ("deployment.absent", "lora.kept") not in graph.edges


def test_unknown_format() -> None:
    with pytest.raises(ValueError, match="dot or mermaid"):
        render_graph(graph_of_plan(every_action_plan()), "svg")


@pytest.mark.parametrize("fmt", ["dot", "mermaid"])
def test_config_graph_golden(fmt: str) -> None:
    r = cli("graph", "--format", fmt, str(EXAMPLES / "quickstart"))
    assert r.code == 0, r
    check_golden(f"graph-quickstart.{'dot' if fmt == 'dot' else 'mmd'}", r.out)


def test_saved_plan_graph_marks_actions(quickstart: Path, tmp_path: Path) -> None:
    planfile = tmp_path / "plan.bin"
    assert cli("plan", str(quickstart), "--out", str(planfile)).code == 0
    r = cli("graph", "--format", "mermaid", "--plan", str(planfile))
    assert r.code == 0, r
    check_golden("graph-quickstart-plan.mmd", r.out)
    assert '["+ deployment.shared-base"]' in r.out and "class n0,n1,n2,n3,n4 create" in r.out


def test_bad_format_and_bad_config_are_clear_errors(tmp_path: Path) -> None:
    r = cli("graph", "--format", "svg", str(EXAMPLES / "quickstart"))
    assert r.code == 2 and "use dot or mermaid" in r.err
    r = cli("graph", str(tmp_path))
    assert r.code == 1 and "no lorainfra.yaml" in r.err and "Traceback" not in r.err
