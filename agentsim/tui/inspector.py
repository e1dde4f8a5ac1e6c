"""The inspector: one resident in depth — who they are, what they are doing, what came to mind
last (the last retrieval with its recency/importance/relevance breakdown, the paper's signature
view: first, so it is in view without scrolling), today's plan (the current item marked), what
they remember, whom they know, their background, the skills they used lately, and their last
conversation."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text
from textual.widgets import Static

from agentsim.events import Conversation, SkillUsed
from agentsim.experiment import Simulation
from agentsim.tui.model import Resident, doing, where
from agentsim.world.places import PlaceGraph

MEMORIES = 8
RELATIONSHIPS = 10
RETRIEVED = 4
SKILLS = 5


def _heading(text: str) -> Text:
    return Text(f"\n{text}", style="bold underline")


def _grid(*widths: int | None) -> Table:
    """Columns of fixed widths, the last one wrapping under itself."""
    grid = Table.grid(padding=(0, 1))
    for w in widths:
        grid.add_column(width=w, no_wrap=w is not None)
    return grid


def _dim(text: str) -> Text:
    return Text(text, style="dim")


def conversation(c: Conversation, name: Callable[[str], str], me: str) -> list[RenderableType]:
    others = ", ".join(name(p) for p in c.participants if p != me)
    grid = _grid(None)
    for t in c.turns:
        grid.add_row(Text.assemble((name(t.speaker).split()[0], "bold green"), ": ", t.text))
    return [_heading(f"Last conversation ({c.time:%a %H:%M}, with {others})"), grid]


def last_retrieval(found: tuple[str, Any, list[Any]] | None) -> list[RenderableType]:
    """The agent's latest recall: the query, and each memory with its score breakdown."""
    if found is None:
        return []
    query, when, results = found
    grid = _grid(None)
    for s in results[:RETRIEVED]:
        grid.add_row(Text(s.record.text))
        grid.add_row(_dim(f"  {s.explain()}"))
    head = _heading(f"Last retrieval ({when:%H:%M}): “{_clip(query, 40)}”")
    return [head, grid if grid.row_count else _dim("(nothing came to mind)")]


def skills_used(uses: Sequence[SkillUsed]) -> list[RenderableType]:
    """The last skill uses, newest first, each ok (✓) or failed (✗, with its error)."""
    head = _heading("Skills used")
    if not uses:
        return [head, _dim("(no skills used yet)")]
    grid = _grid(5, 1, None)
    for u in list(reversed(uses))[:SKILLS]:
        line = Text(u.skill, style="bold")
        if u.task:
            line.append(f" — {u.task}", style="not bold")
        if not u.ok:
            line.append(f"\nfailed: {u.error}" if u.error else "\nfailed", style="yellow")
        grid.add_row(_dim(f"{u.time:%H:%M}"),
                     Text("✓", style="green") if u.ok else Text("✗", style="bold yellow"), line)
    return [head, grid]


def _clip(text: str, n: int) -> str:
    return text if len(text) <= n else text[: n - 1] + "…"


def relationships_of(sim: Simulation, person: str) -> list[tuple[str, dict[str, Any]]]:
    """Whom `person` (a name) knows, closest first, from the relationship graph."""
    graph = sim.relationships.graph
    if person not in graph:
        return []
    edges = [(other, d) for _, other, d in graph.out_edges(person, data=True)]
    return sorted(edges, key=lambda t: (-t[1].get("closeness", 0), t[0]))


def agent_card(sim: Simulation, agent_id: str, last_talk: Conversation | None,
               name: Callable[[str], str], skills: Sequence[SkillUsed] = ()) -> Group:
    """Everything the inspector shows about a live agent; `skills`: its last skill uses."""
    agent, now, places = sim.agents[agent_id], sim.clock.now, sim.world.places
    p = agent.persona
    parts: list[RenderableType] = [
        Text.assemble((f" {agent.name} ", "bold reverse"), f" {p.age}"),
        Text(p.occupation, style="italic"),
        Text(", ".join(p.innate), style="cyan"),
    ]
    now_line = Text("\nNow: ", style="bold")
    if agent.awake and agent.action:
        now_line.append(agent.action.activity, style="not bold")
        now_line.append(f" (until {agent.action.end:%H:%M})", style="dim not bold")
    else:  # awake without an action: a protocol's (a debate panel's) talk
        talking = last_talk is not None and last_talk.tick >= sim.clock.tick - 1
        now_line.append(doing(agent, ("",) if talking else ()), style="not bold")
    at = Text.assemble(("At: ", "bold"), where(places, agent.location))
    if agent.destination and agent.destination != agent.location:
        at.append(f" → {where(places, agent.destination)}", style="dim")
    parts += [now_line, at]
    parts += last_retrieval(agent.last_retrieval)
    parts.append(_heading("Today's plan"))

    plan = _grid(1, 5, None)
    for item in agent.day_plan:
        current = item.start <= now < item.end
        plan.add_row(Text("▶" if current else " ", style="bold yellow"), f"{item.start:%H:%M}",
                     Text(item.activity, style="bold" if current else ""))
    parts.append(plan if agent.day_plan else _dim("(no plan yet)"))

    parts.append(_heading("Recent memories"))
    memories = _grid(5, None)
    for r in reversed(agent.memory.recent(MEMORIES)):
        text = Text(r.text)
        if r.source:
            text.append(f" [{r.source}]", style="dim italic")
        memories.add_row(_dim(f"{r.created:%H:%M}"), text)
    parts.append(memories if memories.row_count else _dim("(none yet)"))

    parts.append(_heading("Relationships"))
    known = _grid(4, None)
    for other, d in relationships_of(sim, agent.name)[:RELATIONSHIPS]:
        who = Text(other)
        if d.get("relation"):
            who.append(f", {d['relation']}", style="dim")
        known.add_row(Text(f"{d.get('closeness', 0):.2f}", style="bold"), who)
    parts.append(known if known.row_count else _dim("(nobody yet)"))
    parts += [_heading("Background"), _dim(p.background)]

    parts += skills_used(skills)
    if last_talk is not None:
        parts += conversation(last_talk, name, agent.id)
    return Group(*parts)


def resident_card(r: Resident, places: PlaceGraph, last_talk: Conversation | None,
                  name: Callable[[str], str], skills: Sequence[SkillUsed] = ()) -> Group:
    """What a replay knows of a resident at one moment."""
    parts: list[RenderableType] = [
        Text(f" {r.name} ", style="bold reverse"),
        Text.assemble(("\nAt: ", "bold"), where(places, r.place)),
        Text.assemble(("Doing: ", "bold"), r.doing),
    ]
    if r.talking_with:
        parts.append(Text.assemble(("Talking with: ", "bold"),
                                   ", ".join(name(o) for o in r.talking_with), style="green"))
    parts += skills_used(skills)
    if last_talk is not None:
        parts += conversation(last_talk, name, r.id)
    return Group(*parts)


class Inspector(Static):
    """Shows a card; `agent_id` is whose. Put it in a scrolling container."""

    agent_id: str | None = None
    card: RenderableType = ""

    def show(self, agent_id: str, card: RenderableType) -> None:
        self.agent_id, self.card = agent_id, card
        self.update(card)
