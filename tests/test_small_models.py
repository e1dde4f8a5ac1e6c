"""Prompts and validation for small local models: a filled-in example instead of the pasted
schema, constrained schemas, validation that rejects copied or placeholder answers (and so
re-asks), relevant places only, and prompts trimmed to a token budget."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path

import pytest
from pydantic import ValidationError

from agentsim.cognition.agent import Agent
from agentsim.cognition.context import Context, Settings
from agentsim.cognition.memorize import Experience, memorize
from agentsim.cognition.plan import PLACES_CAP, plan_day, relevant_places
from agentsim.cognition.schemas import (
    TEMPLATES,
    ConversationMemory,
    DayPlan,
    PlanCritique,
    PlanItem,
    SkillVerdict,
    Turn,
    importance_scores,
)
from agentsim.llm.client import output_instruction
from agentsim.llm.factory import client_for
from agentsim.llm.offline import OfflineMind
from agentsim.llm.prompts import PromptLibrary, estimate_tokens, example_of
from agentsim.memory.embed import HashEmbedder
from agentsim.memory.record import MemoryKind
from agentsim.memory.stream import MemoryStream
from agentsim.testing import FakeLLM
from agentsim.world.loader import load_world

ROOT = Path(__file__).resolve().parent.parent
WORLD = load_world(ROOT / "worlds" / "smallville")
EMB = HashEmbedder()
PERSONA = {"name": "Ann Lee", "age": 30, "occupation": "baker", "world": "Smallville",
           "innate": ["kind"], "background": "Ann bakes bread.", "lifestyle": "early riser"}


async def _embed(texts):
    return EMB.embed(list(texts))


def make_agent(aid: str) -> Agent:
    p = WORLD.personas[aid]
    return Agent(aid, p, MemoryStream(aid, EMB.dim), p.home)


def make_ctx(fn) -> tuple[Context, FakeLLM]:
    backend = FakeLLM(fn)
    return Context(client_for(backend), _embed, WORLD.places, "Smallville",
                   datetime(2023, 2, 13, 7, 0), 0, Settings()), backend


# -- the example instead of the schema --------------------------------------------------------
def _titles_and_descriptions(schema) -> set[str]:
    out = set()
    for node in [schema, *schema.get("$defs", {}).values()]:
        for prop in (node.get("properties") or {}).values():
            out.add(prop.get("title", ""))
    return out - {""}


@pytest.mark.parametrize("template_id", sorted(TEMPLATES))
def test_the_instruction_is_an_example_that_validates_not_the_schema(template_id):
    model = TEMPLATES[template_id][0]
    text = output_instruction(model)
    example = json.loads(text.split("\n")[3])
    try:  # the example is a valid answer, except that a copy of a long example is not
        model.model_validate(example)
    except ValidationError as e:
        assert all("copies the answer's description" in err["msg"] for err in e.errors())
    assert '"properties"' not in text and '"$defs"' not in text
    for title in _titles_and_descriptions(model.model_json_schema()):
        assert f'"{title}"' not in text  # no field title ("Shares Memory Id") to copy
    assert estimate_tokens(text) < 200


def test_the_example_keeps_the_schema_key_order_and_the_count_asked_for():
    plan = example_of(DayPlan.model_json_schema())
    assert list(plan["items"][0]) == ["start", "activity", "place"]
    assert len(example_of(importance_scores(7).model_json_schema())["scores"]) == 7
    assert len(example_of(importance_scores(1).model_json_schema())["scores"]) == 1


def test_optional_keys_are_explained_in_a_line_of_their_own():
    text = output_instruction(Turn)
    assert "\nKeys: shares_memory_id = id of the memory" in text
    assert '"shares_memory_id": null' in text


# -- constrained schemas ------------------------------------------------------------------------
def test_schemas_carry_patterns_bounds_and_enums_for_grammar_servers():
    item = DayPlan.model_json_schema()["$defs"]["PlanItem"]["properties"]
    assert item["start"]["pattern"] == r"^([01][0-9]|2[0-3]):[0-5][0-9]$"
    for t, (model, _) in TEMPLATES.items():  # llama.cpp's grammar converter knows no \d
        assert "\\d" not in json.dumps(model.model_json_schema()), t
    assert item["activity"]["maxLength"] and item["place"]["pattern"]
    scores = importance_scores(5).model_json_schema()["properties"]["scores"]
    assert (scores["minItems"], scores["maxItems"]) == (5, 5)
    assert (scores["items"]["minimum"], scores["items"]["maximum"]) == (1, 10)
    crit = PlanCritique.model_json_schema()["$defs"]["CriterionVerdict"]["properties"]
    assert crit["criterion"]["enum"] == ["places exist", "reachable in time", "coherent times",
                                         "fits the persona"]


# -- validation rejects nonsense ----------------------------------------------------------------
@pytest.mark.parametrize("item", [
    {"start": "2023-12-13 22:54:29", "activity": "work", "place": "cafe"},
    {"start": "25:00", "activity": "work", "place": "cafe"},
    {"start": "20:45", "activity": ",", "place": "apt_isabella"},
    {"start": "20:45", "activity": "   ", "place": "apt_isabella"},
    {"start": "20:34", "activity": "morning_businesses", "place": "hobbs_cafe_counter"},
    {"start": "20:34", "activity": "<activity>", "place": "hobbs_cafe_counter"},
    {"start": "20:34", "activity": "...", "place": "hobbs_cafe_counter"},
    {"start": "20:34", "activity": "Activity", "place": "hobbs_cafe_counter"},
    {"start": "20:34", "activity": "read", "place": "a place id from the list given"},
])
def test_nonsense_plan_items_are_rejected(item):
    with pytest.raises(ValidationError):
        PlanItem.model_validate(item)


def test_sensible_plan_items_still_pass_and_are_normalised():
    item = PlanItem.model_validate({"start": " 7:05", "activity": "open the cafe",
                                    "place": " hobbs_cafe_counter "})
    assert (item.start, item.place) == ("07:05", "hobbs_cafe_counter")


@pytest.mark.parametrize(("model", "answer"), [
    (Turn, {"utterance": "Shares Memory Id"}),
    (Turn, {"utterance": "shares_memory_id"}),
    (Turn, {"utterance": "Morning, Tom! Did you hear the library opens late today?"}),
    (ConversationMemory, {"summary": "one sentence, first person, what the conversation was "
                                     "about", "relationship": "He is kind."}),
    (SkillVerdict, {"success": False, "critique": "What is missing or wrong, if not a success"}),
])
def test_text_copied_from_the_schema_is_rejected(model, answer):
    with pytest.raises(ValidationError, match="copies the answer's description"):
        model.model_validate(answer)


def test_a_wrong_number_of_scores_is_rejected():
    with pytest.raises(ValidationError, match="at most 5 items"):
        importance_scores(5).model_validate({"scores": list(range(1, 11))})
    with pytest.raises(ValidationError, match="at least 5 items"):
        importance_scores(5).model_validate({"scores": [3, 4]})
    assert importance_scores(3).model_validate({"scores": [0, 11, "4"]}).scores == [1, 10, 4]


async def test_importance_with_the_wrong_count_is_reasked_not_truncated():
    answers = iter([{"scores": [5] * 10}, {"scores": [2, 9]}])
    ctx, backend = make_ctx(lambda t, v: next(answers))
    agent = make_agent("isabella_rodriguez")
    records = await memorize(agent, [Experience(MemoryKind.observation, "a cup broke"),
                                     Experience(MemoryKind.observation, "Tom proposed")], ctx)
    assert [r.importance for r in records] == [2, 9]
    assert len(backend.calls) == 2  # the first answer was re-asked
    again = backend.calls[1].messages[-1]["content"]
    assert again.startswith("That answer was not valid") and "at most 2 items" in again
    assert ctx.llm.usage.total.reasks == 1


async def test_a_copied_turn_is_reasked():
    answers = iter([{"utterance": "Shares Memory Id"}, {"utterance": "Hi Tom, good morning!"}])
    ctx, backend = make_ctx(lambda t, v: next(answers))
    out = await ctx.llm.ask("converse_turn", _turn_vars(), schema=Turn)
    assert out.utterance == "Hi Tom, good morning!" and len(backend.calls) == 2


# -- relevant places ----------------------------------------------------------------------------
def test_planning_lists_the_known_areas_grouped_and_at_most_the_cap():
    agent = make_agent("isabella_rodriguez")
    ctx, _ = make_ctx(lambda t, v: {})
    listed = relevant_places(agent, ctx)
    places = [p["id"] for p in listed]
    assert len(places) <= PLACES_CAP < len(WORLD.places.ids())  # not every place in town
    home_area = WORLD.places.area_of(agent.persona.home)
    assert places[:2] == [home_area, agent.persona.home]  # the home area first, home in it
    routine = {r.place for r in agent.persona.daily_routine}
    assert routine <= set(places)
    assert len(set(places)) == len(places) and all(p in WORLD.places for p in places)
    # grouped: each entry names its area, each area's own entry opens its group
    assert all(p["area"] == WORLD.places.area_of(p["id"]) for p in listed)
    areas = [p["area"] for p in listed]
    assert all(areas.index(a) == places.index(a) for a in set(areas))
    assert areas == sorted(areas, key=areas.index)  # one run per area
    # only the areas it knows: home, routine (work), and what `also` names
    known = {home_area, *(WORLD.places.area_of(r) for r in routine)}
    assert set(areas) == known
    few = relevant_places(agent, ctx, ["johnson_park"], cap=3)
    assert [p["id"] for p in few] == [home_area, agent.persona.home, "johnson_park"]


async def test_the_day_plan_prompt_lists_the_relevant_places_and_the_offline_plan_holds():
    mind = OfflineMind()
    ctx, backend = make_ctx(lambda t, v: mind.answer(t, v, 0))
    agent = make_agent("isabella_rodriguez")
    await plan_day(agent, ctx)
    await ctx.settle()  # the deferred critique and refinement
    first = backend.calls[0]
    assert first.template_id == "day_plan"
    assert len(first.variables["places"]) <= PLACES_CAP
    lines = first.messages[-1]["content"].split("Places you know, by area:\n")[1].split("\n\n")[0]
    listed = [x for line in lines.splitlines() for x in line.split(": ", 1)[1].split(", ")]
    assert listed == [p["id"] for p in first.variables["places"]]
    every = [{"id": p, "name": WORLD.places.name(p)} for p in WORLD.places.ids()]
    assert mind.answer("day_plan", {**first.variables, "places": every}, 0) == \
        mind.answer("day_plan", first.variables, 0)  # the offline mind plans the same


# -- the token budget -----------------------------------------------------------------------------
def _turn_vars(memories: int = 1, turns: int = 0) -> dict:
    return {"persona": PERSONA, "now": "09:00", "place_name": "Hobbs Cafe",
            "other": {"name": "Tom"}, "relationship": "Tom is a friend.",
            "memories": [{"id": i, "text": f"memory number {i} " + "word " * 30}
                         for i in range(memories)],
            "news": [], "transcript": [{"speaker": "Tom", "text": f"line {i} " + "blah " * 20}
                                       for i in range(turns)],
            "turn": turns, "max_turns": 8}


def test_long_lists_are_trimmed_to_the_budget_keeping_the_best_and_the_latest():
    lib = PromptLibrary(budgets={"converse_turn": 600})
    variables = _turn_vars(memories=60, turns=40)
    messages = lib.render("converse_turn", variables)
    assert lib.tokens(messages) <= 600
    text = messages[-1]["content"]
    assert "[0] memory number 0" in text and "memory number 59" not in text  # best kept
    assert "line 39 " in text and "line 0 " not in text  # latest kept
    assert len(variables["memories"]) == 60  # the caller's variables are untouched
    assert lib.trimmed == {"converse_turn": 1}


def test_a_prompt_within_budget_is_rendered_as_it_is():
    lib = PromptLibrary()
    variables = _turn_vars(memories=2, turns=2)
    assert lib.render("converse_turn", variables) == lib._render("converse_turn", variables)
    assert lib.trimmed == {}


def test_an_impossible_budget_trims_all_it_can_and_never_fails():
    lib = PromptLibrary(budgets={"converse_turn": 1})
    messages = lib.render("converse_turn", _turn_vars(memories=30, turns=30))
    assert "memory number" not in messages[-1]["content"]
    assert "You speak first." in messages[-1]["content"]


def test_the_budget_never_exceeds_the_context_and_a_tokenizer_can_be_plugged_in():
    small = PromptLibrary(context_tokens=1024)
    assert small.budget("skill_fix") == 1024 - 512 - 250
    words = PromptLibrary(count_tokens=lambda text: len(text.split()),
                          budgets={"converse_turn": 300})
    messages = words.render("converse_turn", _turn_vars(memories=60))
    assert words.tokens(messages) <= 300
    assert sum(len(m["content"].split()) + 4 for m in messages) == words.tokens(messages)
