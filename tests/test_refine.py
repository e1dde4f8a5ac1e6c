"""Self-refine: the loop's stop rules, the plan checks computed from the world, day plans through
the loop (FakeLLM and the offline mind), the offline critic and refiner, and the export of the
traces as fine-tuning examples."""

from __future__ import annotations

import json
from datetime import datetime, time
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from agentsim.cli import main
from agentsim.cognition.agent import Agent
from agentsim.cognition.context import Context, Settings
from agentsim.cognition.memorize import Experience, memorize
from agentsim.cognition.plan import combine, plan_day, replan
from agentsim.cognition.plan_checks import (
    COHERENT_TIMES,
    PLACES_EXIST,
    REACHABLE,
    check_plan,
)
from agentsim.cognition.refine import Feedback, refine, resolve_lists, trace_fields
from agentsim.cognition.schemas import TEMPLATES, PlanCritique, PlanItem
from agentsim.contracts import DAY_PLAN
from agentsim.events import PlanMade, Refined
from agentsim.export import export_refinements, refinement_examples
from agentsim.llm.client import output_instruction
from agentsim.llm.factory import client_for
from agentsim.llm.offline import OfflineMind
from agentsim.llm.prompts import PromptLibrary
from agentsim.memory.embed import HashEmbedder
from agentsim.memory.record import MemoryKind
from agentsim.memory.stream import MemoryStream
from agentsim.testing import FakeLLM
from agentsim.world.loader import load_world
from agentsim.world.schema import ScheduledEvent

ROOT = Path(__file__).resolve().parent.parent
SMALLVILLE = load_world(ROOT / "worlds" / "smallville")
TINY = load_world(ROOT / "tests" / "fixtures" / "tiny_world")
EMB = HashEmbedder()
MIND = OfflineMind()


# -- the loop -------------------------------------------------------------------------------
class Script:
    """generate/feedback/improve over integer outputs, with scripted verdicts."""

    def __init__(self, verdicts: list[tuple[float, bool]]):
        self.verdicts = list(verdicts)
        self.judged: list[int] = []
        self.histories: list[list[tuple[int, float]]] = []
        self.latest: list[int] = []

    async def generate(self) -> int:
        return 1

    async def feedback(self, out: int) -> Feedback:
        self.judged.append(out)
        score, ok = self.verdicts[len(self.judged) - 1]
        return Feedback(score, ok, f"critique of {out}", () if ok else ("x",))

    async def improve(self, latest: int, history) -> int:
        self.latest.append(latest)
        self.histories.append([(a.output, a.feedback.score) for a in history])
        return latest + 1

    async def run(self, rounds: int):
        return await refine(self.generate, self.feedback, self.improve, kind="t",
                            max_rounds=rounds)


async def test_satisfied_on_the_first_round_critiques_once_and_never_improves():
    s = Script([(0.9, True)])
    trace = await s.run(3)
    assert (trace.stopped, trace.rounds, trace.final) == ("satisfied", 1, 1)
    assert s.judged == [1] and s.histories == []


async def test_never_satisfied_stops_at_max_rounds_with_the_best_scored_attempt():
    s = Script([(0.2, False), (0.7, False), (0.5, False)])
    trace = await s.run(3)
    assert (trace.stopped, trace.rounds, trace.final) == ("max_rounds", 3, 2)
    assert not trace.satisfied and s.judged == [1, 2, 3]


async def test_satisfied_on_round_two_and_improve_sees_the_whole_history():
    s = Script([(0.2, False), (0.4, False), (0.95, True)])
    trace = await s.run(5)
    assert (trace.stopped, trace.rounds, trace.final) == ("satisfied", 3, 3)
    assert s.histories == [[(1, 0.2)], [(1, 0.2), (2, 0.4)]]
    assert s.latest == [1, 2]
    s2 = Script([(0.1, False), (0.8, True)])
    assert (await s2.run(3)).final == 2 and len(s2.histories) == 1


async def test_one_round_critiques_once_without_refinement():
    s = Script([(0.3, False)])
    trace = await s.run(1)
    assert (trace.stopped, trace.rounds, trace.final) == ("max_rounds", 1, 1)
    assert s.histories == []
    with pytest.raises(ValueError):
        await s.run(0)


async def test_a_refinement_equal_to_an_attempt_already_judged_ends_the_loop_unjudged():
    """The critic would see what it judged before: the loop stops ("unchanged") with the
    best attempt, and the repeat is neither judged nor kept."""

    class Stuck(Script):
        async def improve(self, latest: int, history) -> int:
            await super().improve(latest, history)
            return 2 if latest == 1 else 1  # 1 -> 2 -> 1 again

    s = Stuck([(0.2, False), (0.6, False), (0.9, True)])
    trace = await s.run(5)
    assert (trace.stopped, trace.rounds, trace.final) == ("unchanged", 2, 2)
    assert s.judged == [1, 2] and not trace.satisfied
    same = Stuck([(0.2, False)])
    same.improve = lambda latest, history: _same(latest)  # type: ignore[method-assign]
    trace = await same.run(3)
    assert (trace.stopped, trace.rounds, same.judged) == ("unchanged", 1, [1])


async def _same(latest: int) -> int:
    return latest


async def test_trace_fields_make_a_refined_event():
    s = Script([(0.2, False), (0.9, True)])
    trace = await s.run(3)
    fields = trace_fields(trace, "tpl", {"a": 1}, lambda x: {"n": x})
    ev = Refined(tick=1, time=datetime(2023, 2, 13, 8), agent="a", **fields)
    assert ev.request == {"template": "tpl", "variables": {"a": 1}}
    assert [a["output"] for a in ev.attempts] == [{"n": 1}, {"n": 2}]
    assert ev.attempts[0]["feedback"]["issues"] == ["x"] and ev.final == {"n": 2}


# -- plan checks (the tiny world: the cafe is 5 min from A's house, rooms 1 min in) ---------
def items(*rows: tuple[str, str]) -> list[PlanItem]:
    return [PlanItem(start=t, activity=f"do {p}", place=p) for t, p in rows]


def check(*rows: tuple[str, str], origin="house_a_bedroom", earliest="06:30", latest="22:00"):
    return check_plan(items(*rows), TINY.places, origin=origin, earliest=earliest, latest=latest)


def test_a_good_plan_passes():
    r = check(("06:30", "house_a_bedroom"), ("07:00", "cafe_counter"), ("12:00", "cafe"),
              ("18:00", "house_a_bedroom"))
    assert r.passed and r.score == 1.0 and r.failed == () and r.problems() == []


def test_unknown_place_is_named_with_its_item():
    r = check(("06:30", "house_a_bedroom"), ("07:00", "the_moon"), ("12:00", "cafe_counter"))
    assert r.failed == (PLACES_EXIST,)
    (p,) = r.get(PLACES_EXIST).problems
    assert p.item == 1 and "the_moon" in p.text
    assert r.score == pytest.approx((2 / 3 + 1 + 1) / 3)


def test_a_walk_that_does_not_fit_is_unreachable_in_time():
    # bedroom -> house_a -> cafe -> counter: 1 + 5 + 1 = 7 minutes; 5 minutes of grace.
    r = check(("06:30", "house_a_bedroom"), ("06:31", "cafe_counter"))
    (p,) = r.get(REACHABLE).problems
    assert (p.item, p.walk_minutes, p.available_minutes) == (1, 7.0, 1)
    assert check(("06:30", "house_a_bedroom"), ("06:32", "cafe_counter")).passed
    first = check(("06:30", "cafe_counter"), ("09:00", "cafe"))  # from home, at wake
    assert first.failed == (REACHABLE,) and first.get(REACHABLE).problems[0].item == 0
    assert check(("06:32", "cafe_counter"), ("09:00", "cafe")).passed


def test_times_out_of_order_or_outside_waking_hours_are_incoherent():
    r = check(("06:30", "house_a_bedroom"), ("09:00", "cafe"), ("08:00", "cafe_counter"))
    assert r.failed == (COHERENT_TIMES,)
    assert [p.item for p in r.get(COHERENT_TIMES).problems] == [2]
    early = check(("05:00", "house_a_bedroom"), ("09:00", "cafe"))
    late = check(("06:30", "house_a_bedroom"), ("22:00", "cafe"))
    assert early.failed == late.failed == (COHERENT_TIMES,)
    assert "outside the waking hours 06:30-22:00" in late.problems()[0]
    # A bedtime at or before the wake time means midnight.
    assert check(("06:30", "house_a_bedroom"), ("23:30", "cafe"), latest="00:30").passed


def test_combine_needs_both_the_checks_and_the_critic():
    bad = check(("06:30", "house_a_bedroom"), ("07:00", "the_moon"))
    good = check(("06:30", "house_a_bedroom"))
    happy = PlanCritique(criteria=[{"criterion": "fits the persona", "passed": True}],
                         score=0.9, satisfied=True)
    grumpy = PlanCritique(criteria=[{"criterion": "fits the persona", "passed": False,
                                     "reason": "no work today"}], score=0.5, satisfied=False)
    f = combine(bad, happy)
    assert not f.satisfied and f.issues == (PLACES_EXIST,) and "the_moon" in f.critique
    assert f.score == pytest.approx(bad.score * 0.9)
    f = combine(good, grumpy)
    assert not f.satisfied and f.issues == ("fits the persona",) and "no work" in f.critique
    assert combine(good, happy).satisfied


# -- day plans through the loop -------------------------------------------------------------
async def _embed(texts):
    return EMB.embed(list(texts))


def make_agent(aid: str, world=SMALLVILLE) -> Agent:
    p = world.personas[aid]
    return Agent(aid, p, MemoryStream(aid, EMB.dim), p.home)


def make_ctx(backend, now=datetime(2023, 2, 13, 6, 0), rounds=3, world=SMALLVILLE) -> Context:
    return Context(client_for(backend), _embed, world.places, "Smallville", now, 0,
                   Settings(refine_rounds=rounds))


BROKEN = {"items": [{"start": "06:00", "activity": "get ready", "place": "apt_isabella"},
                    {"start": "06:40", "activity": "open the cafe", "place": "hobbs_cafe_cellar"},
                    {"start": "20:00", "activity": "go home", "place": "apt_isabella"}]}
FIXED = {"items": [{"start": "06:00", "activity": "get ready", "place": "apt_isabella"},
                   {"start": "06:40", "activity": "open the cafe", "place": "hobbs_cafe_counter"},
                   {"start": "20:00", "activity": "go home", "place": "apt_isabella"}]}


def fixing_llm() -> FakeLLM:
    def fn(tid: str, v: dict[str, Any]):
        if tid == "day_plan":
            return BROKEN
        if tid == "plan_refine":
            return FIXED
        return MIND.answer(tid, v, 0)
    return FakeLLM(fn)


async def test_plan_day_refines_a_plan_naming_a_missing_place():
    backend = fixing_llm()
    agent, ctx = make_agent("isabella_rodriguez"), make_ctx(backend)
    await plan_day(agent, ctx)
    await ctx.settle()  # the deferred critique and refinement
    assert backend.templates() == ["day_plan", "plan_critique", "plan_refine", "plan_critique"]
    assert [(a.start.time(), a.place) for a in agent.day_plan] == [
        (time(6), "apt_isabella"), (time(6, 40), "hobbs_cafe_counter"), (time(20), "apt_isabella")]
    (ev,) = [e for e in ctx.events if isinstance(e, Refined)]
    assert (ev.kind, ev.stopped, len(ev.attempts), ev.final) == ("day_plan", "satisfied", 2, FIXED)
    assert ev.attempts[0]["feedback"]["issues"][0] == "places exist"
    assert "hobbs_cafe_cellar" in ev.attempts[0]["feedback"]["critique"]
    assert ev.request["template"] == "day_plan"
    assert ev.request["variables"]["wake"] == "06:00"
    # The refiner was given the places, the latest plan and the history with its checks.
    refine_vars = next(p.variables for p in backend.calls if p.template_id == "plan_refine")
    assert refine_vars["plan"][1]["place"] == "hobbs_cafe_cellar"
    (past,) = refine_vars["history"]
    assert past["checks"][0] == {"criterion": "places exist", "passed": False, "problems": [
        {"item": 1, "text": past["checks"][0]["problems"][0]["text"]}]}
    assert {"id": "hobbs_cafe_counter", "name": "counter", "area": "hobbs_cafe"} \
        in refine_vars["places"]
    assert any(isinstance(e, PlanMade) for e in ctx.events)


async def test_refine_rounds_one_critiques_only_and_zero_skips_the_critic():
    backend = fixing_llm()
    agent, ctx = make_agent("isabella_rodriguez"), make_ctx(backend, rounds=1)
    await plan_day(agent, ctx)
    await ctx.settle()  # the deferred critique and refinement
    assert backend.templates() == ["day_plan", "plan_critique"]
    (ev,) = [e for e in ctx.events if isinstance(e, Refined)]
    assert (ev.stopped, len(ev.attempts)) == ("max_rounds", 1)
    assert agent.day_plan[1].place == agent.persona.home  # unknown places still fall back home
    backend = fixing_llm()
    agent, ctx = make_agent("isabella_rodriguez"), make_ctx(backend, rounds=0)
    await plan_day(agent, ctx)
    await ctx.settle()  # the deferred critique and refinement
    assert backend.templates() == ["day_plan"]
    assert not [e for e in ctx.events if isinstance(e, Refined)]


async def test_offline_day_plans_in_smallville_pass_within_two_rounds():
    backend = FakeLLM(lambda tid, v: MIND.answer(tid, v, 1))
    rounds = {}
    for aid in SMALLVILLE.personas:
        agent = make_agent(aid)
        ctx = make_ctx(backend)
        await plan_day(agent, ctx)
        await ctx.settle()  # the deferred critique and refinement
        (ev,) = [e for e in ctx.events if isinstance(e, Refined)]
        assert ev.stopped == "satisfied", (aid, ev.attempts)
        rounds[aid] = len(ev.attempts)
    # Only Wolfgang's routine starts away from home the minute he wakes: the refiner moves
    # his run in Johnson Park later and fills the time before it.
    assert {a for a, n in rounds.items() if n > 1} == {"wolfgang_schulz"}
    assert max(rounds.values()) == 2
    calls = backend.templates()
    assert calls.count("plan_critique") == 26 and calls.count("plan_refine") == 1


async def test_replan_goes_through_the_loop_from_where_the_agent_is():
    backend = FakeLLM(lambda tid, v: MIND.answer(tid, v, 0))
    agent = make_agent("isabella_rodriguez")
    ctx = make_ctx(backend, now=datetime(2023, 2, 13, 6))
    await plan_day(agent, ctx)
    await ctx.settle()  # the deferred critique and refinement
    ctx.now, ctx.events = datetime(2023, 2, 13, 15), []
    news = ScheduledEvent(title="poetry reading", place="hobbs_cafe_seating",
                          start=datetime(2023, 2, 13, 16), end=datetime(2023, 2, 13, 17),
                          host="Isabella Rodriguez")
    [told] = await memorize(agent, [Experience(MemoryKind.observation,
                                               "I will host a poetry reading", event=news)], ctx)
    await replan(agent, "I will host a poetry reading", "I should plan for it.", [told], ctx)
    await ctx.settle()  # the deferred critique and refinement
    (ev,) = [e for e in ctx.events if isinstance(e, Refined)]
    assert ev.kind == "replan" and ev.stopped == "satisfied"
    critique = [p.variables for p in backend.calls if p.template_id == "plan_critique"][-1]
    assert critique["day_start"] == "15:00" and critique["events"][0]["title"] == "poetry reading"
    assert any("poetry reading" in a.activity for a in agent.day_plan)


# -- the offline critic and refiner ---------------------------------------------------------
async def _critique_vars(aid: str) -> dict[str, Any]:
    """The real plan_critique variables of one Smallville day plan (offline mind)."""
    backend = FakeLLM(lambda tid, v: MIND.answer(tid, v, 1))
    ctx = make_ctx(backend)
    await plan_day(make_agent(aid), ctx)
    await ctx.settle()  # the deferred critique and refinement
    return next(p.variables for p in backend.calls if p.template_id == "plan_critique")


async def test_offline_critique_judges_checks_and_persona_fit():
    v = await _critique_vars("isabella_rodriguez")
    ok = MIND.answer("plan_critique", v, 1)
    assert ok["satisfied"] and ok["score"] == 1.0
    assert [c["criterion"] for c in ok["criteria"]] == [
        "places exist", "reachable in time", "coherent times", "fits the persona"]
    # No work today: the persona fit fails and says why.
    lazy = {**v, "plan": [{"start": "06:00", "activity": "stay in bed", "place": "apt_isabella",
                           "place_name": "apartment"}]}
    out = MIND.answer("plan_critique", lazy, 1)
    fit = out["criteria"][-1]
    assert not out["satisfied"] and not fit["passed"] and "leaves out" in fit["reason"]
    assert 0 < out["score"] < 1
    # A failed computed check fails its criterion with the check's own words.
    failing = {**v, "checks": [{**c, "passed": False, "problems": [
        {"item": 0, "text": "item 1: the walk takes 40 min"}]} if c["criterion"] == REACHABLE
        else c for c in v["checks"]]}
    out = MIND.answer("plan_critique", failing, 1)
    reach = next(c for c in out["criteria"] if c["criterion"] == REACHABLE)
    assert not out["satisfied"] and reach["reason"] == "item 1: the walk takes 40 min"
    # The host must be at her own party.
    party = {"title": "Valentine's Day party", "place": "hobbs_cafe", "place_name": "Hobbs Cafe",
             "start": "17:00", "end": "19:00", "host": "Isabella Rodriguez",
             "date_iso": v["date_iso"]}
    out = MIND.answer("plan_critique", {**v, "events": [party]}, 1)
    assert not out["satisfied"] and "misses Valentine's Day party" in out["criteria"][-1]["reason"]


def _refine_vars(plan: list[dict[str, str]], world=SMALLVILLE, aid="isabella_rodriguez",
                 **frame: Any) -> tuple[dict[str, Any], Any]:
    """plan_refine variables for `plan`, with the checks computed as plan_day computes them."""
    p = world.personas[aid]
    start, end = frame.get("day_start", "06:00"), frame.get("day_end", "22:00")
    checks = check_plan([PlanItem(**i) for i in plan], world.places, origin=p.home,
                        earliest=start, latest=end)
    critic = PlanCritique(criteria=[{"criterion": "fits the persona", "passed": True}],
                          score=1.0, satisfied=True)
    fb = combine(checks, critic)
    if frame.get("persona_failed"):
        fb = Feedback(fb.score, False, fb.critique, (*fb.issues, "fits the persona"))
    v = {"persona": {"name": p.name}, "date": "Monday", "date_iso": "2023-02-13",
         "day_start": start, "day_end": end, "origin": {"id": p.home, "name": p.home},
         "home": p.home, "goals": [], "events": frame.get("events", []),
         "routine": [{"start": r.start.strftime("%H:%M"), "activity": r.activity,
                      "place": r.place} for r in p.daily_routine],
         "places": [{"id": i, "name": i} for i in world.places.ids()], "plan": plan,
         "history": [{"plan": plan, "feedback": fb.to_dict(), "checks": checks.to_vars(),
                      "critic": []}]}
    return v, checks


def test_offline_refine_fixes_what_the_checks_name():
    plan = [{"start": "06:00", "activity": "run to the cafe", "place": "hobbs_cafe_counter"},
            {"start": "09:00", "activity": "bake", "place": "hobbs_cafe_cellar"},
            {"start": "08:00", "activity": "serve", "place": "hobbs_cafe_counter"},
            {"start": "08:00", "activity": "serve twice", "place": "hobbs_cafe_counter"},
            {"start": "23:30", "activity": "night walk", "place": "park_pond"}]
    v, checks = _refine_vars(plan)
    assert set(checks.failed) == {PLACES_EXIST, REACHABLE, COHERENT_TIMES}
    out = MIND.answer("plan_refine", v, 0)
    TEMPLATES["plan_refine"][0].model_validate(out)
    got = [(i["start"], i["activity"], i["place"]) for i in out["items"]]
    walk = SMALLVILLE.places.travel_minutes("apt_isabella", "hobbs_cafe_counter")
    moved = f"06:{-(-int(walk) // 5) * 5:02d}"
    assert got == [
        ("06:00", "get up and get ready", "apt_isabella"),  # fills the time the walk takes
        (moved, "run to the cafe", "hobbs_cafe_counter"),  # moved later by the walk
        ("08:00", "serve", "hobbs_cafe_counter"),  # of two at 08:00 the first stays
        ("09:00", "bake", "hobbs_cafe_counter"),  # unknown place: the routine's at 09:00
        ("21:55", "night walk", "park_pond"),  # pulled inside the day
    ]
    again = check_plan([PlanItem(**i) for i in out["items"]], SMALLVILLE.places,
                       origin="apt_isabella", earliest="06:00", latest="22:00")
    assert again.passed, again.problems()


def test_offline_refine_puts_in_a_missed_event_when_the_persona_fit_failed():
    plan = [{"start": "06:00", "activity": "get ready", "place": "apt_isabella"},
            {"start": "08:00", "activity": "run the cafe", "place": "hobbs_cafe_counter"},
            {"start": "20:00", "activity": "rest", "place": "apt_isabella"}]
    party = {"title": "Valentine's Day party", "place": "hobbs_cafe", "place_name": "Hobbs Cafe",
             "start": "17:00", "end": "19:00", "host": "Isabella Rodriguez",
             "date_iso": "2023-02-13"}
    v, _ = _refine_vars(plan, events=[party], persona_failed=True)
    v["persona"] = {"name": "Isabella Rodriguez"}
    out = MIND.answer("plan_refine", v, 0)
    got = [(i["start"], i["activity"]) for i in out["items"]]
    assert ("17:00", "host the Valentine's Day party") in got
    assert ("16:00", "prepare for the Valentine's Day party") in got
    assert MIND.answer("plan_refine", v, 0) == out  # deterministic
    v2, _ = _refine_vars(plan, events=[party])
    v2["persona"] = {"name": "Isabella Rodriguez"}
    assert [i["activity"] for i in MIND.answer("plan_refine", v2, 0)["items"]] == [
        "get ready", "run the cafe", "rest"]  # not named: left alone


# -- export --refinements -------------------------------------------------------------------
def _run_dir(tmp_path: Path, events: list[Refined]) -> Path:
    run = tmp_path / "run"
    run.mkdir()
    (run / "manifest.json").write_text("{}")
    (run / "events.jsonl").write_text("".join(e.to_json() + "\n" for e in events))
    return run


def _skill_event(template: str = "skill_write") -> Refined:
    return Refined(tick=7, time=datetime(2023, 2, 13, 7), agent="klaus_mueller", kind="skill",
                   request={"template": template,
                            "variables": {"task": "brew coffee", "actions": ["use"]}},
                   attempts=[{"output": "use('coffee_machine')",
                              "feedback": {"score": 1.0, "satisfied": True}}],
                   stopped="satisfied", final="use('coffee_machine')")


async def test_export_renders_the_generating_prompt_and_the_final_plan(tmp_path):
    ctx = make_ctx(fixing_llm())
    await plan_day(make_agent("isabella_rodriguez"), ctx)
    await ctx.settle()  # the deferred critique and refinement
    (ev,) = [e for e in ctx.events if isinstance(e, Refined)]
    run = _run_dir(tmp_path, [ev])
    warnings: list[str] = []
    path = export_refinements(run, warn=warnings.append)
    assert path == run / "export" / "refinements.jsonl" and warnings == []
    (line,) = [json.loads(x) for x in path.read_text().splitlines()]
    system, user, assistant = line["messages"]
    # the places are stored once, referenced from the variables
    (ref,) = ev.request["lists"]
    assert ev.request["variables"]["places"] == {"$list": ref}
    variables = resolve_lists(ev.request["variables"], ev.request["lists"])
    assert variables["places"][0]["area"] == "smallville_apartments"
    expected = PromptLibrary().render("day_plan", variables)
    assert system == expected[0]
    assert user["role"] == "user"
    assert user["content"] == expected[1]["content"] + output_instruction(TEMPLATES["day_plan"][0])
    assert json.loads(assistant["content"]) == FIXED and assistant["role"] == "assistant"
    assert {k: line[k] for k in ("kind", "agent", "rounds", "stopped", "tick", "rendered")} == {
        "kind": "day_plan", "agent": "isabella_rodriguez", "rounds": 2, "stopped": "satisfied",
        "tick": 0, "rendered": True}


async def test_a_residents_places_are_stored_once_and_referenced_after(tmp_path):
    agent, backend = make_agent("isabella_rodriguez"), fixing_llm()
    events = []
    for day in (13, 14):  # the same places list on two days
        ctx = make_ctx(backend, now=datetime(2023, 2, day, 6))
        await plan_day(agent, ctx)
        await ctx.settle()
        events += [e for e in ctx.events if isinstance(e, Refined)]
    first, second = events
    assert first.request["variables"]["places"] == second.request["variables"]["places"]
    assert "lists" in first.request and "lists" not in second.request
    assert len(second.to_json()) < len(first.to_json())
    # the kept ids survive a checkpoint, so a resumed run references them too
    state, arrays = agent.get_state()
    assert Agent.from_state(agent.persona, state, arrays).lists_kept == agent.lists_kept
    path = export_refinements(_run_dir(tmp_path, events), warn=lambda w: None)
    lines = [json.loads(x) for x in path.read_text().splitlines()]
    listed = [x["messages"][1]["content"].split("Places you know, by area:")[1].split("\n\n")[0]
              for x in lines]
    assert listed[0] == listed[1] and "hobbs_cafe_counter" in listed[1]  # resolved in both


def test_export_renders_any_named_template_and_survives_a_missing_one(tmp_path):
    lib = tmp_path / "prompts"
    lib.mkdir()
    (lib / "skill_write.j2").write_text("[system]\nYou write skills.\n[user]\nWrite code to "
                                        "{{ task }} using {{ actions | join(', ') }}.\n")
    (examples, failed) = refinement_examples([_skill_event()], PromptLibrary(lib))
    assert failed == {}
    assert examples[0]["messages"] == [
        {"role": "system", "content": "You write skills."},
        {"role": "user", "content": "Write code to brew coffee using use."},
        {"role": "assistant", "content": "use('coffee_machine')"}]
    assert examples[0]["kind"] == "skill" and examples[0]["rounds"] == 1

    run = _run_dir(tmp_path, [_skill_event("no_such_template"), _skill_event("no_such_template")])
    warnings: list[str] = []
    path = export_refinements(run, tmp_path / "out", warn=warnings.append)
    lines = [json.loads(x) for x in path.read_text().splitlines()]
    assert len(lines) == 2 and all(not x["rendered"] for x in lines)
    user, assistant = lines[0]["messages"]
    assert json.loads(user["content"]) == {"task": "brew coffee", "actions": ["use"]}
    assert assistant["content"] == "use('coffee_machine')"
    assert len(warnings) == 1 and "2 refinement(s)" in warnings[0]
    assert "no_such_template" in warnings[0]


def test_export_command_writes_refinements(tmp_path):
    run = _run_dir(tmp_path, [_skill_event("no_such_template")])
    r = CliRunner().invoke(main, ["export", str(run), "--refinements", "-o", str(tmp_path / "o")])
    assert r.exit_code == 0, r.output
    assert r.stdout.strip() == str(tmp_path / "o" / "refinements.jsonl")
    assert "could not be rendered" in r.stderr
    assert not (tmp_path / "o" / "events.parquet").exists()  # only what was asked for
    r = CliRunner().invoke(main, ["export", str(tmp_path), "--refinements"])
    assert r.exit_code == 2 and "not a run directory" in r.output


def test_offline_day_plan_keeps_the_waking_item_at_home_when_merging():
    p = SMALLVILLE.personas["sam_moore"]  # 9 routine items: 06:00 at home, 06:30 at the pond
    routine = [{"start": r.start.strftime("%H:%M"), "activity": r.activity, "place": r.place}
               for r in p.daily_routine]
    out = MIND.answer("day_plan", DAY_PLAN.sample(persona={"name": p.name}, wake="06:00",
                                                  sleep="21:30", routine=routine, events=[],
                                                  places=[], recalled=[]), 0)
    assert len(routine) == 9 and len(out["items"]) == 8
    assert out["items"][0] == {"start": "06:00", "activity": routine[0]["activity"],
                               "place": "moore_bedroom"}
    assert out["items"][1]["start"] == "06:30"  # the next shortest pair was merged instead
