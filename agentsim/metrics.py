"""What happened in a run, measured: the same figures for a live `Simulation` (`sim.metrics`)
and for a finished run directory (`agentsim.metrics.from_run(path)`), computed from the event
log (plus the world, and for a live run the agents' memories).

    m = sim.metrics
    m.events                                     one row per event (pandas)
    m.diffusion("Valentine's Day party")         share of residents who know, tick by tick
    m.diffusion("Valentine's Day party", by="interview")   asked now, evidence checked
    m.relationship_graph()                       who knows whom (networkx DiGraph)
    m.density(by="interview")                    the paper's network density: each asked
                                                 about each other, evidence checked
    m.density_over_time()                        density from relationships and conversations
    m.conversations_per_agent()
    m.occupancy("hobbs_cafe", start, end)        who was there in the window
    m.llm_usage()                                calls, tokens and cost by template, tier, agent

An agent "knows" a piece of information from the moment it was seeded with it, heard it in a
conversation, had it whispered, or (for a world's scheduled event) learned of it; in a live
simulation `by="memory"` searches each agent's memory stream instead, and `by="interview"`
asks them, as the paper did (`agentsim.surveys`: a structured yes/no with the memory ids it
rests on; a yes without valid evidence is counted as a hallucination, not as knowing).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

import networkx as nx

from agentsim.events import Event
from agentsim.world.loader import WorldDef

if TYPE_CHECKING:
    import pandas as pd

    from agentsim.experiment import Simulation

# Event fields that become columns of their own; the rest go into `data` (JSON).
_COLUMNS = ("type", "tick", "time", "agent", "place", "text")


def events_frame(events: Iterable[Event]) -> pd.DataFrame:
    """One row per event: type, tick, time, agent, place, text, participants and the remaining
    fields as JSON in `data`."""
    import pandas as pd

    rows = []
    for e in events:
        d = e.model_dump(mode="json")
        place = d.pop("place", None) or d.get("dst")
        text = (d.pop("activity", None) or d.pop("insight", None) or d.pop("title", None)
                or d.pop("text", None) or d.pop("reason", None))
        d.pop("time")
        row = {"type": d.pop("type"), "tick": d.pop("tick"), "time": e.time,
               "agent": d.pop("agent", None), "place": place, "text": text,
               "participants": d.pop("participants", None)}
        row["data"] = json.dumps(d, ensure_ascii=False, separators=(",", ":")) if d else None
        rows.append(row)
    return pd.DataFrame(rows, columns=[*_COLUMNS, "participants", "data"])


def _matches(about: str | Callable[[str], bool]) -> Callable[[str], bool]:
    if callable(about):
        return about
    needle = about.casefold()
    return lambda text: needle in text.casefold()


def knowledge_times(events: Iterable[Event], about: str | Callable[[str], bool],
                    initial: Iterable[str] = ()) -> dict[str, datetime | None]:
    """When each agent first knew of `about` (a phrase, or a predicate over texts), from the
    log: None for those in `initial` (they knew from the start)."""
    match = _matches(about)
    known: dict[str, datetime | None] = dict.fromkeys(initial)

    def learn(agent: str, when: datetime) -> None:
        known.setdefault(agent, when)

    for e in events:
        said = e.title if e.type == "learned" else e.text if e.type == "whispered" else None
        if said is not None and match(said):
            learn(e.agent, e.time)
        elif e.type == "conversation":
            for turn in e.turns:
                if match(turn.text):
                    for p in e.participants:
                        learn(p, e.time)
    return known


@dataclass
class Metrics:
    """Measures over one run's events; see the module docstring."""

    event_list: Sequence[Event]
    world: WorldDef
    usage: dict[str, Any] = field(default_factory=dict)
    sim: Simulation | None = None  # a live simulation: memory search and interviews

    @property
    def events(self) -> pd.DataFrame:
        return events_frame(self.event_list)

    @property
    def agents(self) -> list[str]:
        return sorted(self.world.personas)

    def _ticks(self) -> list[tuple[int, datetime]]:
        """(tick, time) at the start of each tick the log covers."""
        out = [(e.tick, e.time) for e in self.event_list if e.type == "tick_ended"]
        return sorted(set(out))

    def seeded_with(self, about: str | Callable[[str], bool]) -> set[str]:
        """Agents whose seed memories mention `about` (text or scheduled event title)."""
        match = _matches(about)
        return {aid for aid, p in self.world.personas.items()
                if any(match(m.text) or (m.event and match(m.event.title)) for m in p.memories)}

    # -- diffusion ------------------------------------------------------------------------
    def diffusion(self, about: str | Callable[[str], bool], *, by: str = "events",
                  question: str | None = None, topic: str | None = None,
                  aliases: list[str] | None = None) -> pd.DataFrame:
        """Share of agents who know `about`, over time.

        by="events" (default; works on finished runs): from seed memories, conversations,
        whispers and learned events. by="memory" (live runs): the first memory in each agent's
        stream whose text mentions it. Both give one row per tick: tick, time, knowers, share.
        by="interview" (live runs): ask everyone now (`question`, default "Do you know about
        <topic>?"; `topic` defaults to `about` and must be given for a predicate; `aliases`:
        the words a memory may name it by) for a yes/no and the memory ids it rests on. One
        row: tick, time, knowers (a yes whose evidence holds), hallucinated (a yes whose
        evidence does not), total, share = knowers / total, who, hallucinators, probes.
        """
        import pandas as pd

        if by == "interview":
            if self.sim is None:
                raise ValueError('by="interview" needs a live simulation (sim.metrics)')
            from agentsim.surveys import diffusion_frame

            return diffusion_frame(self.sim, about, topic=topic, question=question,
                                   aliases=aliases)
        if by == "memory":
            known = self._memory_times(about)
        elif by == "events":
            known = knowledge_times(self.event_list, about, self.seeded_with(about))
        else:
            raise ValueError(f"by must be events, memory or interview, not {by!r}")
        n = len(self.agents)
        rows = []
        for tick, time in self._ticks():
            knowers = sum(1 for t in known.values() if t is None or t <= time)
            rows.append({"tick": tick, "time": time, "knowers": knowers,
                         "share": knowers / n if n else 0.0})
        return pd.DataFrame(rows, columns=["tick", "time", "knowers", "share"])

    def _memory_times(self, about: str | Callable[[str], bool]) -> dict[str, datetime | None]:
        if self.sim is None:
            raise ValueError('by="memory" needs a live simulation (sim.metrics)')
        match = _matches(about)
        start = self.world.spec.start
        out: dict[str, datetime | None] = {}
        for aid, agent in self.sim.agents.items():
            hits = [r.created for r in agent.memory.records()
                    if match(r.text) or (r.event is not None and match(r.event.title))]
            if hits:
                first = min(hits)
                out[aid] = None if first <= start else first
        return out

    # -- relationships --------------------------------------------------------------------
    def _names(self) -> dict[str, str]:
        return {aid: p.name for aid, p in self.world.personas.items()}

    def relationship_graph(self, at: datetime | None = None) -> nx.DiGraph:
        """Who knows whom at `at` (default: the end of the log): the personas' relationships
        plus an edge each way for every conversation so far. Nodes are names."""
        names = self._names()
        g = nx.DiGraph()
        g.add_nodes_from(names.values())
        for p in self.world.personas.values():
            for r in p.relationships:
                g.add_edge(p.name, r.name, relation=r.relation, conversations=0)
        for e in self.event_list:
            if e.type != "conversation" or (at is not None and e.time > at):
                continue
            people = [names.get(p, p) for p in e.participants]
            for a in people:
                for b in people:
                    if a != b:
                        if not g.has_edge(a, b):
                            g.add_edge(a, b, relation="acquaintance", conversations=0)
                        g.edges[a, b]["conversations"] += 1
        return g

    def density(self, *, by: str = "interview", sample: int | None = None) -> pd.DataFrame:
        """Network density (known ordered pairs / n(n-1)).

        by="interview" (live runs; the paper's way): ask each resident about each other
        resident now ("Do you know <name>?"), a pair counting when the answer is yes with
        valid evidence (`agentsim.surveys.density_frame`; `sample`: that many others per
        resident). One row: tick, time, asked, known, hallucinated, density, edges.
        by="conversations" (works on finished runs): `density_over_time()` -- the personas'
        relationships plus every pair that talked -- one row per six ticks."""
        if by == "conversations":
            return self.density_over_time()
        if by != "interview":
            raise ValueError(f"by must be interview or conversations, not {by!r}")
        if self.sim is None:
            raise ValueError('by="interview" needs a live simulation (sim.metrics)')
        from agentsim.surveys import density_frame

        return density_frame(self.sim, sample)

    def density_over_time(self, every_ticks: int = 6) -> pd.DataFrame:
        """Network density (edges / n(n-1)) every `every_ticks` ticks, with an edge for each
        persona relationship and each pair that talked: the conversation-based measure, which
        works on a finished run (the paper's own asks the residents: `density()`)."""
        import pandas as pd

        n = len(self.agents)
        names = self._names()
        g = self.relationship_graph(at=self.world.spec.start)
        talks = iter(sorted((e for e in self.event_list if e.type == "conversation"),
                            key=lambda e: e.time))
        pending = next(talks, None)
        rows = []
        for tick, time in self._ticks():
            while pending is not None and pending.time <= time:
                people = [names.get(p, p) for p in pending.participants]
                g.add_edges_from((a, b) for a in people for b in people if a != b)
                pending = next(talks, None)
            if tick % every_ticks == 0:
                rows.append({"tick": tick, "time": time, "edges": g.number_of_edges(),
                             "density": g.number_of_edges() / (n * (n - 1)) if n > 1 else 0.0})
        return pd.DataFrame(rows, columns=["tick", "time", "edges", "density"])

    # -- activity -------------------------------------------------------------------------
    def conversations_per_agent(self) -> pd.Series:
        """How many conversations each agent took part in (by name), most first."""
        import pandas as pd

        names = self._names()
        counts = dict.fromkeys(names.values(), 0)
        for e in self.event_list:
            if e.type == "conversation":
                for p in e.participants:
                    counts[names.get(p, p)] = counts.get(names.get(p, p), 0) + 1
        s = pd.Series(counts, name="conversations", dtype="int64")
        return s.sort_values(ascending=False, kind="stable")

    def skills(self) -> pd.DataFrame:
        """Each skill run: uses, successes, the residents who used it, who wrote it (for a
        skill learned in this run) and the commonest error; most used first."""
        import pandas as pd

        names = self._names()
        rows: dict[str, dict[str, Any]] = {}
        for e in self.event_list:
            if e.type not in ("skill_used", "skill_learned"):
                continue
            r = rows.setdefault(e.skill, {"skill": e.skill, "uses": 0, "successes": 0,
                                          "users": set(), "learned_by": "", "errors": {}})
            if e.type == "skill_learned":
                r["learned_by"] = names.get(e.agent, e.agent)
                continue
            r["uses"] += 1
            r["successes"] += int(e.ok)
            r["users"].add(names.get(e.agent, e.agent))
            if not e.ok and e.error_kind:
                r["errors"][e.error_kind] = r["errors"].get(e.error_kind, 0) + 1
        out = [{**{k: v for k, v in r.items() if k not in ("users", "errors")},
                "residents": len(r["users"]),
                "main error": max(r["errors"], key=r["errors"].get) if r["errors"] else ""}
               for r in rows.values()]
        cols = ["skill", "uses", "successes", "residents", "learned_by", "main error"]
        df = pd.DataFrame(out, columns=cols)
        return df.sort_values(["uses", "skill"], ascending=[False, True],
                              kind="stable").reset_index(drop=True)

    def whereabouts(self) -> pd.DataFrame:
        """Each agent's place over time: one row per move (agent, time, place), starting at
        home at the first tick."""
        import pandas as pd

        start = self.world.spec.start
        rows = [{"agent": aid, "time": start, "place": p.home}
                for aid, p in self.world.personas.items()]
        rows += [{"agent": e.agent, "time": e.time, "place": e.dst}
                 for e in self.event_list if e.type == "moved"]
        return pd.DataFrame(rows, columns=["agent", "time", "place"])

    def occupancy(self, place: str, start: datetime, end: datetime) -> pd.DataFrame:
        """Who was at `place` (a room, or an area and its rooms) between `start` and `end`:
        agent, name, arrived (or was there at `start`), left (NaT if still there at `end`).
        Both are datetime columns, so `left - arrived` works. Only what the log covers counts: a
        window after its last tick is empty."""
        import pandas as pd

        places = self.world.places
        if place not in places:
            raise ValueError(f"no place {place!r} in {self.world.spec.name}")

        def inside(p: str) -> bool:
            return p == place or places.area_of(p) == place

        names = self._names()
        stays: dict[str, list[list[Any]]] = {}
        for row in self.whereabouts().sort_values("time", kind="stable").itertuples():
            visits = stays.setdefault(row.agent, [])
            if visits and visits[-1][1] is None and not inside(row.place):
                visits[-1][1] = row.time
            if inside(row.place) and (not visits or visits[-1][1] is not None):
                visits.append([row.time, None])
        ticks = self._ticks()
        covered = (ticks[-1][1] + timedelta(minutes=self.world.spec.tick_minutes) if ticks
                   else self.world.spec.start)  # the end of the last tick in the log
        out = []
        for aid, visits in sorted(stays.items()):
            for arrived, left in visits:
                if arrived < end and (left if left is not None else covered) > start:
                    out.append({"agent": aid, "name": names.get(aid, aid),
                                "arrived": max(arrived, start),
                                "left": left if left is not None and left < end else None})
        frame = pd.DataFrame(out, columns=["agent", "name", "arrived", "left"])
        frame["arrived"] = pd.to_datetime(frame["arrived"])
        frame["left"] = pd.to_datetime(frame["left"])  # None -> NaT
        return frame

    def llm_usage(self, by: str = "template") -> pd.DataFrame:
        """LLM calls, cached answers, tokens, cost, repairs, re-asks, fallbacks and the model's
        share of the answers meant for it (None: none was) by template, tier or agent (and a
        total row)."""
        import pandas as pd

        key = {"template": "by_template", "tier": "by_tier", "agent": "by_agent"}[by]
        table = dict(self.usage.get(key, {}))
        if "total" in self.usage:
            table["total"] = self.usage["total"]
        rows = [{by: k, "calls": v.get("calls", 0), "cached": v.get("cache_hits", 0),
                 "prompt_tokens": v.get("prompt_tokens", 0),
                 "completion_tokens": v.get("completion_tokens", 0),
                 "cost_usd": v.get("cost_usd", 0.0), "repairs": v.get("repairs", 0),
                 "reasks": v.get("reasks", 0), "fallbacks": v.get("fallbacks", 0),
                 "model_share": v.get("model_share")} for k, v in table.items()]
        return pd.DataFrame(rows, columns=[by, "calls", "cached", "prompt_tokens",
                                           "completion_tokens", "cost_usd", "repairs", "reasks",
                                           "fallbacks", "model_share"])


def answers_frame(answers: Iterable[Any]) -> pd.DataFrame:
    """Interview answers (from `sim.interview("all", question)`) as a table: agent, question,
    answer, and the ids and sources of the memories each answer drew on."""
    import pandas as pd

    return pd.DataFrame([{"agent": a.agent, "question": a.question, "answer": a.answer,
                          "memory_ids": [m.record.id for m in a.memories],
                          "sources": a.sources} for a in answers],
                        columns=["agent", "question", "answer", "memory_ids", "sources"])


def of_simulation(sim: Simulation) -> Metrics:
    return Metrics(sim.events, sim.world, sim.llm.usage.summary(), sim)


def from_run(path: str | Path) -> Metrics:
    """Metrics of a run directory (its events.jsonl, manifest and world); no LLM is built."""
    from agentsim.rundir import RunDir, world_of

    rd = RunDir.open(path)
    manifest = rd.read_manifest()
    return Metrics(rd.read_events(), world_of(manifest), manifest.get("llm_usage") or {})
