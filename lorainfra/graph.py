"""Dependency graph: a networkx DAG of addresses, dependency before dependent."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING

from lorainfra.addresses import Address
from lorainfra.errors import Diagnostic, Span

if TYPE_CHECKING:  # networkx (~0.1 s to import) only when a graph is built: not for a config without a cycle
    import networkx as nx


def build_graph(dependencies: Mapping[Address, Iterable[Address]]) -> nx.DiGraph:
    """A DiGraph with an edge dependency -> dependent for every declared dependency.

    Dependencies on addresses that are not keys of ``dependencies`` are kept as nodes too (the
    caller decides whether a dangling reference is an error).
    """
    import networkx as nx

    graph: nx.DiGraph = nx.DiGraph()
    for address in sorted(dependencies):
        graph.add_node(address)
    for address in sorted(dependencies):
        for dep in sorted(set(dependencies[address])):
            graph.add_edge(dep, address)
    return graph


def has_cycle(dependencies: Mapping[Address, Iterable[Address]]) -> bool:
    """Whether following dependencies ever comes back to where it started (linear; no graph library)."""
    indegree: dict[Address, int] = {}
    dependents: dict[Address, list[Address]] = {}
    for address, deps in dependencies.items():
        indegree.setdefault(address, 0)
        for dep in set(deps):
            indegree[address] += 1
            indegree.setdefault(dep, 0)
            dependents.setdefault(dep, []).append(address)
    ready = [a for a, n in indegree.items() if n == 0]
    seen = 0
    while ready:
        node = ready.pop()
        seen += 1
        for child in dependents.get(node, ()):
            indegree[child] -= 1
            if indegree[child] == 0:
                ready.append(child)
    return seen != len(indegree)


def cycle_diagnostics(graph: nx.DiGraph, spans: Mapping[Address, Span]) -> list[Diagnostic]:
    """One diagnostic per member of each dependency cycle, naming the whole cycle."""
    import networkx as nx

    diagnostics: list[Diagnostic] = []
    for component in nx.strongly_connected_components(graph):
        members = sorted(component)
        if len(members) == 1 and not graph.has_edge(members[0], members[0]):
            continue
        try:
            edges = nx.find_cycle(graph.subgraph(members))
            ring = [str(edge[0]) for edge in edges] + [str(edges[0][0])]
        except nx.NetworkXNoCycle:  # pragma: no cover - a strongly connected component has a cycle
            ring = [str(m) for m in members]
        where = ", ".join(f"{m} ({spans.get(m, Span('?'))})" for m in members)
        for member in members:
            diagnostics.append(
                Diagnostic(
                    spans.get(member, Span("?")),
                    f"dependency cycle: {' -> '.join(ring)}",
                    f"break the cycle by removing one depends_on; members: {where}",
                )
            )
    return diagnostics

