"""Who knows whom, how well, and what they think of each other: a directed networkx graph."""

from __future__ import annotations

from typing import Any

import networkx as nx

from agentsim.world.schema import PersonaSpec


class Relationships:
    def __init__(self) -> None:
        self.graph = nx.DiGraph()

    @classmethod
    def from_personas(cls, personas: dict[str, PersonaSpec]) -> Relationships:
        rel = cls()
        for p in personas.values():
            rel.graph.add_node(p.name)
        for p in personas.values():
            for r in p.relationships:
                rel.graph.add_edge(
                    p.name, r.name, relation=r.relation, closeness=r.closeness,
                    summary="", conversations=0,
                )
        return rel

    def get(self, a: str, b: str) -> dict[str, Any] | None:
        return self.graph.edges[a, b] if self.graph.has_edge(a, b) else None

    def after_conversation(self, a: str, b: str, summary: str, change: float) -> None:
        if not self.graph.has_edge(a, b):
            self.graph.add_edge(a, b, relation="acquaintance", closeness=0.1, summary="",
                                conversations=0)
        edge = self.graph.edges[a, b]
        edge["closeness"] = round(min(1.0, max(0.0, edge["closeness"] + change)), 4)
        edge["summary"] = summary
        edge["conversations"] += 1

    def get_state(self) -> dict[str, Any]:
        return {"edges": [[a, b, dict(d)] for a, b, d in sorted(self.graph.edges(data=True))],
                "nodes": sorted(self.graph.nodes)}

    @classmethod
    def from_state(cls, state: dict[str, Any]) -> Relationships:
        rel = cls()
        rel.graph.add_nodes_from(state["nodes"])
        for a, b, d in state["edges"]:
            rel.graph.add_edge(a, b, **d)
        return rel
