"""Prompt contracts: one per template, each renders from its example, cognition asks only
through them, and the variables a template and the offline mind see are the caller's, as given."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from pydantic import ValidationError

from agentsim.contracts import (
    CONTRACTS,
    CONVERSE_TURN,
    IMPORTANCE,
    INTERVIEW,
    REACT,
    ImportanceVars,
    ReactVars,
    ask,
)
from agentsim.llm.offline import OfflineMind
from agentsim.llm.prompt_check import direct_asks
from agentsim.llm.prompts import BUDGETS, TRIM, PromptLibrary
from agentsim.resources import prompts_dir

LIBRARY = PromptLibrary()


def test_every_template_has_a_contract_and_every_contract_a_template():
    files = {p.stem for p in prompts_dir().glob("*.j2") if not p.stem.startswith("_")}
    assert len(files) == 30  # 19, judge_rank, knows_about, summary, group_turn, debate_answer,
    # answer_judge, game_master, teach_turn, code_change, code_review, test_report
    assert files == set(CONTRACTS)


@pytest.mark.parametrize("template_id", sorted(CONTRACTS))
def test_every_template_renders_from_its_example(template_id):
    contract = CONTRACTS[template_id]
    example = contract.example()
    assert isinstance(example, contract.variables)
    messages = LIBRARY.render(template_id, example.dump())
    assert messages[-1]["role"] == "user" and messages[-1]["content"].strip()
    assert "Undefined" not in "".join(m["content"] for m in messages)
    assert LIBRARY.tokens(messages) <= LIBRARY.budget(template_id)  # examples need no trim


@pytest.mark.parametrize("template_id", sorted(CONTRACTS))
def test_the_offline_mind_answers_every_example_validly(template_id):
    contract = CONTRACTS[template_id]
    example = contract.example()
    answer = OfflineMind().answer(template_id, example.dump(), seed=3)
    contract.output_for(example).model_validate(answer)
    assert OfflineMind().answer(template_id, example, seed=3) == answer  # typed or plain


def test_budgets_and_trims_come_from_the_contracts():
    assert {c.id: c.budget for c in CONTRACTS.values()} == BUDGETS == LIBRARY.budgets
    assert LIBRARY.trim == TRIM
    for tid, keep in TRIM.items():
        fields = CONTRACTS[tid].variables.model_fields
        for name in keep:
            assert "list" in str(fields[name].annotation), (tid, name)


def test_no_code_asks_a_template_without_its_contract(tmp_path):
    assert direct_asks() == []
    pkg = tmp_path / "agentsim"
    (pkg / "cognition").mkdir(parents=True)
    (pkg / "llm").mkdir()
    (pkg / "cognition" / "x.py").write_text(
        "async def f(ctx, Turn):\n"
        "    await ctx.llm.ask('react', {}, agent='a')\n"
        "    await ctx.llm.ask(tid, {}, schema=Turn)\n"
        "    await REACT.ask(ctx.llm, v, agent='a')\n", encoding="utf-8")
    (pkg / "llm" / "wrap.py").write_text(
        "async def ask(self, t, v, **kw):\n    return await self.inner.ask(t, v, schema=1)\n",
        encoding="utf-8")
    assert direct_asks(pkg) == ["agentsim/cognition/x.py:2", "agentsim/cognition/x.py:3"]


def test_dump_is_the_callers_dict_as_given():
    persona = {"name": "Ann", "age": 30}
    v = ReactVars(persona=persona, now="09:00", date="Monday, February 13",
                  date_iso="2023-02-13", activity="baking", observation="Tom is here",
                  other={"name": "Tom"}, relationship="", closeness=1, plan=[],
                  memories=[{"id": 0, "text": "x"}])
    out = v.dump()
    assert list(out) == list(ReactVars.model_fields)
    assert out["closeness"] == 1 and isinstance(out["closeness"], int)  # renders as 1, not 1.0
    assert out["persona"] == persona and out["persona"] is not persona  # a copy, same order
    with pytest.raises(ValidationError, match="moood"):
        ReactVars(**{**out, "moood": "x"})


def test_an_optional_variable_is_passed_only_when_set():
    v = INTERVIEW.sample()
    assert "passages" in v.dump()
    bare = INTERVIEW.variables(**{k: x for k, x in v.dump().items() if k != "passages"})
    assert "passages" not in bare.dump() and bare.passages == []
    assert "fact" in CONVERSE_TURN.sample(fact=None).dump()


class Recorder:
    def __init__(self, answer: Any):
        self.calls: list[tuple] = []
        self.answer = answer

    async def ask(self, template_id, variables, *, schema=None, tier="smart", agent=None):
        self.calls.append((template_id, variables, schema, tier, agent))
        return self.answer


def test_ask_passes_the_contracts_id_output_and_tier():
    llm = Recorder("ok")
    v = ImportanceVars(persona={"name": "Ann"}, observations=["a", "b", "c"])
    assert asyncio.run(IMPORTANCE.ask(llm, v, agent="ann")) == "ok"
    tid, variables, schema, tier, agent = llm.calls[0]
    assert (tid, tier, agent) == ("importance", "fast", "ann")
    assert variables == v.dump()
    assert schema.model_fields["scores"].metadata  # sized: exactly 3 scores
    schema.model_validate({"scores": [1, 2, 3]})
    with pytest.raises(ValidationError):
        schema.model_validate({"scores": [1, 2]})
    asyncio.run(ask(llm, REACT, REACT.example(), agent=None))
    assert llm.calls[1][0] == "react" and llm.calls[1][3] == "fast"
    with pytest.raises(TypeError, match="react takes ReactVars"):
        asyncio.run(REACT.ask(llm, v))  # type: ignore[arg-type]


def test_tiers_are_the_ones_runs_were_asked_at():
    # dialogue_critique was declared "fast" before contracts but always asked at "smart";
    # its contract keeps the tier it is asked at, so two-tier runs route it as before.
    fast = {c.id for c in CONTRACTS.values() if c.tier == "fast"}
    assert fast == {"importance", "react", "conversation_memory"}


def test_the_worked_example_in_docs_prompts_md_works(tmp_path):
    """docs/prompts.md adds a prompt with one template and one contract: do as it says."""
    import random
    import re
    import shutil
    from pathlib import Path

    from pydantic import Field

    from agentsim.contracts import Contract, Vars
    from agentsim.contracts import samples as s
    from agentsim.contracts.outputs import Out
    from agentsim.contracts.shapes import Persona
    from agentsim.llm.factory import compose
    from agentsim.llm.prompt_check import check_prompts
    from agentsim.testing import FakeLLM

    doc = (Path(__file__).resolve().parent.parent / "docs" / "prompts.md").read_text("utf-8")
    template = re.search(r"```jinja\n(.*?)```", doc, re.DOTALL)[1]
    d = tmp_path / "prompts"
    shutil.copytree(prompts_dir(), d)
    (d / "weather_remark.j2").write_text(template, encoding="utf-8")

    class WeatherRemark(Out):
        remark: str = Field(min_length=3, max_length=300, examples=["Lovely sun today!"])
        _words = ("remark",)

    class WeatherRemarkVars(Vars):
        persona: Persona
        now: str
        weather: str
        other: str
        recent: list[str]

    try:
        weather = Contract(
            "weather_remark", WeatherRemarkVars, WeatherRemark, tier="fast", budget=800,
            trim={"recent": "last"},
            example=lambda: WeatherRemarkVars(persona=s.PERSONA, now="09:00", weather="sunny",
                                              other="Tom Moreno",
                                              recent=["it rained all week"]))
        library = PromptLibrary(d)
        check_prompts(library)
        assert library.budget("weather_remark") == 800
        fake = FakeLLM(lambda t, v: {"remark": f"What a {v['weather']} day, {v['other']}!"})
        llm = compose({"fast": fake, "smart": fake}, library, rng=random.Random(0))
        out = asyncio.run(weather.ask(llm, weather.example(), agent="isabella_rodriguez"))
        assert out.remark == "What a sunny day, Tom Moreno!"
        prompt = fake.calls[-1]
        assert prompt.tier == "fast" and "the weather is sunny" in prompt.messages[-1]["content"]
        (d / "weather_remark.j2").write_text(template.replace("{{ other }}", "{{ others }}"),
                                             encoding="utf-8")
        with pytest.raises(Exception, match="'others'"):
            check_prompts(PromptLibrary(d))
    finally:
        CONTRACTS.pop("weather_remark", None)
