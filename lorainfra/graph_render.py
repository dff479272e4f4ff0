"""Graph rendering: the dependency graph of a config, or of a saved plan with its actions, as DOT or mermaid.

Pure and deterministic: nodes sorted by address, edges by (dependency, dependent). Edges point from a
dependency to what depends on it (the order apply creates things in; destroys run the other way).
"""

from __future__ import annotations

from dataclasses import dataclass

from lorainfra.config.model import Config
from lorainfra.plan.model import Action, Plan

FORMATS = ("dot", "mermaid")

# action -> (DOT colour, mermaid class style); no-op and plain config nodes are drawn without colour
_DOT_COLOURS = {Action.CREATE: "darkgreen", Action.UPDATE: "darkgoldenrod", Action.REPLACE: "darkorange",
                Action.DELETE: "red"}
_MERMAID_STYLES = {
    Action.CREATE: "fill:#e6ffec,stroke:#1a7f37,color:#1a7f37",
    Action.UPDATE: "fill:#fff8c5,stroke:#9a6700,color:#9a6700",
    Action.REPLACE: "fill:#fff1e5,stroke:#bc4c00,color:#bc4c00",
    Action.DELETE: "fill:#ffebe9,stroke:#cf222e,color:#cf222e",
}
_CLASS = {Action.CREATE: "create", Action.UPDATE: "update", Action.REPLACE: "replace", Action.DELETE: "delete"}


@dataclass(frozen=True)
class Node:
    address: str
    action: Action | None = None  # None: drawn from the config, no plan

    @property
    def label(self) -> str:
        if self.action is None or self.action is Action.NOOP:
            return self.address
        return f"{self.action.symbol} {self.address}"


@dataclass(frozen=True)
class DependencyGraph:
    """Nodes sorted by address; edges (dependency, dependent) sorted, both ends among the nodes."""

    nodes: tuple[Node, ...]
    edges: tuple[tuple[str, str], ...]


def _graph(nodes: dict[str, Node], deps: dict[str, tuple[str, ...]]) -> DependencyGraph:
    edges = sorted({(dep, address) for address, needs in deps.items() for dep in needs if dep in nodes})
    return DependencyGraph(tuple(nodes[a] for a in sorted(nodes)), tuple(edges))


def graph_of_config(config: Config) -> DependencyGraph:
    nodes = {str(a): Node(str(a)) for a in config.resources}
    deps = {str(a): tuple(str(d) for d in r.depends_on) for a, r in config.resources.items()}
    return _graph(nodes, deps)


def graph_of_plan(plan: Plan) -> DependencyGraph:
    nodes = {c.address: Node(c.address, c.action) for c in plan.changes}
    deps = {c.address: tuple(c.depends_on) for c in plan.changes}
    return _graph(nodes, deps)


def _dot_id(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def render_dot(graph: DependencyGraph) -> str:
    lines = ["digraph lorainfra {", '  rankdir = "LR";', '  node [shape = "box", fontname = "Helvetica"];']
    for node in graph.nodes:
        attrs = [f"label = {_dot_id(node.label)}"]
        colour = _DOT_COLOURS.get(node.action) if node.action is not None else None
        if colour:
            attrs += [f'color = "{colour}"', f'fontcolor = "{colour}"']
        if node.action is Action.DELETE:
            attrs.append('style = "dashed"')
        lines.append(f"  {_dot_id(node.address)} [{', '.join(attrs)}];")
    lines += [f"  {_dot_id(a)} -> {_dot_id(b)};" for a, b in graph.edges]
    lines.append("}")
    return "\n".join(lines) + "\n"


def _mermaid_text(text: str) -> str:
    return text.replace('"', "#quot;")


def render_mermaid(graph: DependencyGraph) -> str:
    """A ``flowchart LR``; put it in a ```mermaid fence and GitHub renders it (PR comments included)."""
    ids = {node.address: f"n{i}" for i, node in enumerate(graph.nodes)}
    lines = ["flowchart LR"]
    lines += [f'  {ids[n.address]}["{_mermaid_text(n.label)}"]' for n in graph.nodes]
    lines += [f"  {ids[a]} --> {ids[b]}" for a, b in graph.edges]
    used = [a for a in _CLASS if any(n.action is a for n in graph.nodes)]
    for action in used:
        lines.append(f"  classDef {_CLASS[action]} {_MERMAID_STYLES[action]}")
    for action in used:
        members = ",".join(ids[n.address] for n in graph.nodes if n.action is action)
        lines.append(f"  class {members} {_CLASS[action]}")
    return "\n".join(lines) + "\n"


def render_graph(graph: DependencyGraph, fmt: str) -> str:
    if fmt == "mermaid":
        return render_mermaid(graph)
    if fmt == "dot":
        return render_dot(graph)
    raise ValueError(f"unknown graph format {fmt!r}: use {' or '.join(FORMATS)}")
