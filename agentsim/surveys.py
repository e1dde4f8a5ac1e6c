"""Measures taken by asking the residents, as Park et al. 2023 (Sec. 7.1) did: who knows a
piece of news, and who knows whom (network density). Each question is a knowledge probe
(`agentsim.cognition.knowing`): a structured yes/no with the memory ids it rests on, checked
against the resident's memory stream; a "yes" without valid evidence is a hallucination,
counted apart and never as knowing. Nothing asked changes the simulation.

    sim.metrics.diffusion("Valentine's Day party", by="interview")
        tick, time, knowers, hallucinated, total, share, who, hallucinators
    sim.metrics.density(by="interview")          every ordered pair: N*(N-1) questions
    sim.metrics.density(by="interview", sample=5) five others per resident, drawn by the seed

Density asks one question per ordered pair ("Do you know Tom Moreno?"), as the paper did,
rather than one question listing everyone: each answer then rests on the memories retrieved
for that one person, which is what makes its evidence checkable. For 25 residents that is
600 questions; `sample` bounds it.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from agentsim.cognition.knowing import KNOWS, Check, Probe, naming, person_aliases, probe

if TYPE_CHECKING:
    import pandas as pd

    from agentsim.experiment import Simulation

About = str | Callable[[str], bool]


def _check(about: About, aliases: list[str]) -> Check:
    if callable(about):
        return lambda r: bool(about(r.text) or (r.event is not None and about(r.event.title)))
    return naming(aliases)


async def _ready(sim: Simulation) -> None:
    if not sim._seeded:  # at tick 0 the seed memories are written on first use
        await sim._seed_memories()


async def aprobe_all(sim: Simulation, about: About, *, topic: str | None = None,
                     question: str | None = None, aliases: list[str] | None = None
                     ) -> list[Probe]:
    """Ask every resident whether it knows about `about` (a phrase, or a predicate over a
    memory's text or event title, then with `topic`, how to name it in the question)."""
    if callable(about) and topic is None:
        raise ValueError("give the topic to ask about when `about` is a predicate")
    topic = topic if topic is not None else str(about)
    aliases = aliases or [topic]
    question = question or f"Do you know about {topic}?"
    check = _check(about, aliases)
    await _ready(sim)
    ctx = sim._context()
    return list(await asyncio.gather(*(probe(sim.agents[a], question, topic, aliases, ctx,
                                             check=check) for a in sorted(sim.agents))))


def diffusion_frame(sim: Simulation, about: About, *, topic: str | None = None,
                    question: str | None = None, aliases: list[str] | None = None
                    ) -> pd.DataFrame:
    """One row, now: knowers (a yes with valid evidence), hallucinated (a yes without),
    total residents, share (knowers / total), who and hallucinators (ids), and the probes."""
    import pandas as pd

    probes = sim._sync(aprobe_all(sim, about, topic=topic, question=question, aliases=aliases))
    who = [p.agent for p in probes if p.verdict == KNOWS]
    made_up = [p.agent for p in probes if p.says and p.verdict != KNOWS]
    n = len(probes)
    return pd.DataFrame([{"tick": sim.clock.tick, "time": sim.clock.now, "knowers": len(who),
                          "hallucinated": len(made_up), "total": n,
                          "share": len(who) / n if n else 0.0, "who": who,
                          "hallucinators": made_up, "probes": probes}])


def pairs(sim: Simulation, sample: int | None = None) -> list[tuple[str, str]]:
    """The ordered pairs (asker, asked about) to put: all, or `sample` others per resident
    drawn by the simulation's seed (the same pairs every time)."""
    ids = sorted(sim.agents)
    out = []
    for a in ids:
        others = [b for b in ids if b != a]
        if sample is not None and sample < len(others):
            others = sorted(random.Random(f"density:{sim.seed}:{a}").sample(others, sample))
        out += [(a, b) for b in others]
    return out


async def aprobe_pairs(sim: Simulation, asked: list[tuple[str, str]]) -> list[Probe]:
    """For each pair (a, b): "Do you know <b's name>?" put to a, its evidence checked."""
    await _ready(sim)
    ctx = sim._context()
    everyone = [p.name for p in sim.world.personas.values()]

    def one(a: str, b: str) -> Any:
        name = sim.world.personas[b].name
        aliases = person_aliases(name, everyone)
        return probe(sim.agents[a], f"Do you know {name}?", name, aliases, ctx)

    return list(await asyncio.gather(*(one(a, b) for a, b in asked)))


def density_frame(sim: Simulation, sample: int | None = None) -> pd.DataFrame:
    """One row, now: pairs asked, known (a yes with valid evidence), hallucinated, density
    (known / asked), and the known pairs as (asker, known) ids."""
    import pandas as pd

    asked = pairs(sim, sample)
    probes = sim._sync(aprobe_pairs(sim, asked))
    known = [pair for pair, p in zip(asked, probes, strict=True) if p.verdict == KNOWS]
    made_up = sum(1 for p in probes if p.says and p.verdict != KNOWS)
    n = len(asked)
    return pd.DataFrame([{"tick": sim.clock.tick, "time": sim.clock.now, "asked": n,
                          "known": len(known), "hallucinated": made_up,
                          "density": len(known) / n if n else 0.0, "edges": known}])
