"""Running an evaluation: each condition's simulation from the same world, seed and LLM, the
interview battery put to every resident at its end, the judge's rankings and the ratings.

    result = evaluate("worlds/smallville", hours=48, seed=0, llm="offline", out="eval")

Every condition starts from the world's seed skills only (no shared skill library), so the
runs share everything but the ablation switch. Interviews do not change a simulation
(nothing is remembered), so all of a condition's questions are asked together. The judge
sees one question's answers at a time, labelled in an order drawn from the seed, never the
conditions' names."""

from __future__ import annotations

import asyncio
import random
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from agentsim.errors import UserError
from agentsim.evaluate.battery import CATEGORIES, Question, batteries
from agentsim.evaluate.conditions import Condition, pick
from agentsim.evaluate.measures import About, interview_measures, measure
from agentsim.evaluate.rating import trueskill
from agentsim.streams import streams


@dataclass(frozen=True)
class Setup:
    """What every condition shares."""

    world: str
    seed: int
    hours: float
    llm: str | None
    embedder: str
    source: str  # the WORLD_OR_RUN given


def setup_from(target: str, *, hours: float | None = None, seed: int | None = None,
               llm: str | None = None, embedder: str | None = None) -> Setup:
    """A world folder, or a run directory whose world, seed, LLM, embedder and length are the
    defaults (the conditions are run anew from its world: a finished run holds one
    condition only). Options given win."""
    from agentsim.resources import resolve_world

    path = Path(target)
    if (path / "manifest.json").is_file():
        from agentsim.rundir import RunDir

        manifest = RunDir.open(path).read_manifest()
        opts = manifest.get("options", {})
        world = manifest.get("world", {}).get("path") or opts.get("world")
        ticks = manifest.get("ticks")
        minutes = _tick_minutes(world)
        ran = ticks * minutes / 60 if ticks else opts.get("hours")
        return Setup(str(world), seed if seed is not None else int(manifest.get("seed", 0)),
                     hours or ran or 48.0, llm or opts.get("llm"),
                     embedder or opts.get("embedder") or "minilm", str(target))
    world = str(resolve_world(target))
    return Setup(world, seed or 0, hours or 48.0, llm, embedder or "minilm", str(target))


def _tick_minutes(world: str) -> int:
    from agentsim.world.loader import load_world

    return load_world(Path(world)).spec.tick_minutes


@dataclass
class ConditionRun:
    condition: Condition
    answers: dict[tuple[str, str], dict[str, Any]]  # (agent, question id) -> text, evidence
    measures: dict[str, Any]
    memory_kinds: dict[str, int]  # memories by kind, all residents together
    run_dir: str | None
    llm_usage: dict[str, Any] = field(default_factory=dict)


def run_condition(setup: Setup, condition: Condition, questions: Sequence[Question],
                  out: Path | None, subjects: Mapping[str, About] | None = None
                  ) -> ConditionRun:
    """One condition's run, its interviews and its measures; the simulation is closed after."""
    from agentsim.experiment import Simulation

    sim = Simulation.load(setup.world, seed=setup.seed, llm=setup.llm, embedder=setup.embedder,
                          out=str(out / condition.name) if out else None, skill_library=None,
                          settings=condition.switches())
    try:
        start = interview_measures(sim, subjects)  # tick 0: who knows what, whom, by asking
        sim.run(hours=setup.hours)
        found = sim._sync(_ask(sim, questions))
        answers = {(q.agent, q.id): {"question": q.text, "text": a.answer,
                                     "evidence": len(a.memories)}
                   for q, a in zip(questions, found, strict=True)}
        kinds = Counter(r.kind.value for a in sim.agents.values() for r in a.memory.records())
        usage = sim.llm.usage.summary()
        return ConditionRun(condition, answers, measure(sim.metrics, subjects, start=start),
                            dict(sorted(kinds.items())),
                            str(sim.run_dir.path) if sim.run_dir else None,
                            usage.get("total", {}))
    finally:
        sim.close()


async def _ask(sim: Any, questions: Sequence[Question]) -> list[Any]:
    return list(await asyncio.gather(*(sim.ainterview(q.agent, q.text) for q in questions)))


@dataclass
class Judged:
    question: Question
    order: list[str]  # condition names, best first


def judge_all(setup: Setup, runs: Sequence[ConditionRun], questions: Sequence[Question],
              personas: Mapping[str, Mapping[str, Any]]) -> tuple[list[Judged], dict]:
    """The judge's ranking of every question's answers (one match per question), with the
    judge's LLM usage."""
    from agentsim.cognition.judge import Candidate, judge_rank
    from agentsim.llm.factory import build_llm

    run_streams = streams(setup.seed)
    llm = build_llm(setup.llm, seed=run_streams.prompts, rng=run_streams.jitter())

    async def one(q: Question) -> Judged:
        order = list(range(len(runs)))
        random.Random(f"judge:{setup.seed}:{q.agent}:{q.id}").shuffle(order)
        shown = [runs[i].answers[(q.agent, q.id)] for i in order]
        ranked = await judge_rank(llm, personas[q.agent], q.text,
                                  [Candidate(a["text"], a["evidence"]) for a in shown],
                                  agent=q.agent)
        return Judged(q, [runs[order[i]].condition.name for i in ranked])

    async def every() -> list[Judged]:
        try:
            return list(await asyncio.gather(*(one(q) for q in questions)))
        finally:
            await llm.aclose()

    judged = asyncio.run(every())
    return judged, llm.usage.summary().get("total", {})


def evaluate(target: str, *, hours: float | None = None, seed: int | None = None,
             llm: str | None = None, embedder: str | None = None,
             conditions: str | Sequence[str] | None = None, out: str | Path | None = None,
             residents: int | None = None, subjects: Mapping[str, About] | None = None,
             progress: Any = None) -> dict[str, Any]:
    """Run the evaluation and return its results as plain data (see `report.write` for the
    files). `residents`: interview only the first N residents by id (all by default)."""
    from agentsim.world.loader import load_world

    setup = setup_from(target, hours=hours, seed=seed, llm=llm, embedder=embedder)
    chosen = pick(conditions)
    if len(chosen) < 2:
        raise UserError("an evaluation compares at least two conditions", field="--conditions")
    world = load_world(Path(setup.world))
    agents = sorted(world.personas)[:residents] if residents else None
    questions = batteries(world, agents, setup.seed)
    folder = Path(out) / "runs" if out else None
    runs = []
    for c in chosen:
        if progress:
            progress(f"{c.name}: {setup.hours:g} sim hours, then {len(questions)} interviews")
        runs.append(run_condition(setup, c, questions, folder, subjects))
    personas = {aid: {"id": aid, "name": p.name, "age": p.age, "innate": list(p.innate),
                      "background": p.background, "lifestyle": p.lifestyle,
                      "occupation": p.occupation, "world": world.spec.name}
                for aid, p in world.personas.items()}
    if progress:
        progress(f"judge: {len(questions)} rankings")
    judged, judge_usage = judge_all(setup, runs, questions, personas)
    names = [c.name for c in chosen]
    return _results(setup, world.spec.name, chosen, runs, judged, judge_usage, names)


def _results(setup: Setup, world_name: str, chosen: list[Condition], runs: list[ConditionRun],
             judged: list[Judged], judge_usage: dict, names: list[str]) -> dict[str, Any]:
    overall = trueskill(names, [j.order for j in judged])
    by_category = {cat: trueskill(names, [j.order for j in judged
                                          if j.question.category == cat])
                   for cat in CATEGORIES}
    offline = (setup.llm or "offline").startswith("offline")
    return {
        "world": world_name, "source": setup.source, "seed": setup.seed,
        "hours": setup.hours, "llm": setup.llm or "default", "embedder": setup.embedder,
        "offline_baseline": offline,
        "note": ("The offline mind is a scripted rule baseline: its answers come from rules, "
                 "and its judge ranks by a stated rule (most memories drawn on, then most "
                 "distinct words), so these ratings measure memory use, not believability."
                 if offline else "Answers and rankings by the model named in llm."),
        "conditions": [{
            "name": r.condition.name, "label": r.condition.label,
            "switches": r.condition.switches(),
            "trueskill": {"mu": overall[r.condition.name].mu,
                          "sigma": overall[r.condition.name].sigma,
                          "matches": overall[r.condition.name].matches},
            "trueskill_by_category": {cat: {"mu": by_category[cat][r.condition.name].mu,
                                            "sigma": by_category[cat][r.condition.name].sigma}
                                      for cat in CATEGORIES},
            "mean_rank": _mean_rank(r.condition.name, judged),
            "measures": r.measures, "memory_kinds": r.memory_kinds, "run_dir": r.run_dir,
            "llm_usage": r.llm_usage,
        } for r in runs],
        "judge_usage": judge_usage,
        "interviews": [{
            "agent": j.question.agent, "question_id": j.question.id,
            "category": j.question.category, "question": j.question.text,
            "ranking": j.order,
            "answers": {r.condition.name: r.answers[(j.question.agent, j.question.id)]
                        for r in runs},
        } for j in judged],
    }


def _mean_rank(name: str, judged: Sequence[Judged]) -> float | None:
    ranks = [j.order.index(name) + 1 for j in judged if name in j.order]
    return sum(ranks) / len(ranks) if ranks else None
