"""How a template's answer format is shown to the model (`Contract.shown`): the full example
wherever the server enforces nothing, and the contract's choice (example, compact shape, or
nothing) where a grammar enforces the schema, which the model never reads."""

from __future__ import annotations

import json

import pytest
from pydantic import BaseModel, Field

from agentsim.contracts import CONTRACTS, Contract, Vars
from agentsim.contracts.contract import SHOWN
from agentsim.llm.openai_backend import OpenAIBackend
from agentsim.llm.prompts import schema_instruction, shape_of
from agentsim.testing import FakeOpenAIServer, test_client


class Answer(BaseModel):
    word: str
    n: int


class Step(BaseModel):
    minutes: int = Field(ge=1)
    object: str | None = None


class Plan(BaseModel):
    steps: list[Step]
    mood: str = Field(json_schema_extra={"enum": ["calm", "busy"]})
    done: bool


class EchoVars(Vars):
    who: str
    what: str


@pytest.fixture
def echo_shown():
    """A contract for the test library's `echo` template, its `shown` given by the test."""
    made: list[str] = []

    def declare(shown: str) -> Contract:
        contract = Contract("echo", EchoVars, Answer, lambda: EchoVars(who="x", what="y"),
                            shown=shown)
        made.append(contract.id)
        return contract

    yield declare
    for template_id in made:
        CONTRACTS.pop(template_id, None)


def test_the_three_ways_to_show_a_format():
    schema = Plan.model_json_schema()
    full = schema_instruction(schema)
    assert full == schema_instruction(schema, "json")
    assert json.loads(full.splitlines()[-1]) == \
        {"steps": [{"minutes": 1, "object": "..."}], "mood": "calm", "done": False}
    compact = schema_instruction(schema, "compact")
    assert compact.splitlines()[-1] == ('{"steps": [{"minutes": integer, "object": string or '
                                        'null}, ...], "mood": "calm" or "busy", '
                                        '"done": boolean}')
    assert len(compact) < len(full)
    assert schema_instruction(schema, "none") == ""


def test_behind_a_grammar_the_example_is_shorter():
    schema = Plan.model_json_schema()
    schema["properties"]["steps"]["examples"] = [[{"minutes": 5, "object": "kettle"},
                                                  {"minutes": 9, "object": None}]]
    full, enforced = schema_instruction(schema), schema_instruction(schema, enforced=True)
    assert full.startswith("\n\nAnswer with one JSON object and nothing else, with the keys")
    assert enforced.startswith("\n\nAnswer in JSON with the keys of this example")
    assert json.loads(full.splitlines()[-1])["steps"] == \
        [{"minutes": 5, "object": "kettle"}, {"minutes": 9, "object": None}]
    assert json.loads(enforced.splitlines()[-1])["steps"] == [{"minutes": 5, "object": "kettle"}]
    scores = {"type": "object", "properties": {"scores": {
        "type": "array", "items": {"type": "integer"}, "minItems": 3, "maxItems": 3}}}
    assert json.loads(schema_instruction(scores, enforced=True).splitlines()[-1]) == \
        {"scores": [1, 1, 1]}  # a list of scalars keeps the length the schema asks


def test_a_shape_names_types_not_values():
    assert shape_of(Answer.model_json_schema()) == '{"word": string, "n": integer}'
    assert '"..."' not in shape_of(Plan.model_json_schema())  # no value to copy


def test_a_contract_shows_one_of_the_known_ways():
    with pytest.raises(ValueError, match="shown is one of json, compact, none"):
        Contract("no_such_template", EchoVars, Answer, lambda: EchoVars(who="x", what="y"),
                 shown="schema")
    assert "no_such_template" not in CONTRACTS
    assert all(c.shown in SHOWN for c in CONTRACTS.values())


def test_the_bundled_choices_follow_the_measurements():
    """benchmarks/README.md, "Examples per template": the plans need the example, the summary
    copies it."""
    assert CONTRACTS["day_plan"].shown == "json"
    assert CONTRACTS["summary"].shown != "json"


@pytest.mark.parametrize(("structured", "shown", "expected"), [
    ("json_schema", "none", None), ("json_schema", "compact", "compact"),
    ("json_schema", "json", "json"), ("json_object_schema", "none", None),
    ("json_object", "none", "json"), ("none", "compact", "json")])
async def test_a_local_server_shows_what_the_contract_chooses_where_it_enforces_the_schema(
        prompts, echo_shown, structured, shown, expected):
    echo_shown(shown)
    sent = []

    def answer(template_id, variables, body):
        sent.append(body["messages"][-1]["content"])
        return {"word": "w", "n": 1}

    with FakeOpenAIServer(answer) as server:
        b = OpenAIBackend("fake-model", base_url=server.base_url, name="compat",
                          structured=structured, send_request_meta=True)
        c = test_client(b, prompts)
        assert await c.ask("echo", {"who": "x", "what": "y"}, schema=Answer) == \
            Answer(word="w", n=1)
        await c.aclose()
    enforced = structured in ("json_schema", "json_object_schema")
    tail = "" if expected is None else \
        schema_instruction(Answer.model_json_schema(), expected, enforced)
    assert sent == ["Say y." + tail]


async def test_a_reask_shows_the_full_example_whatever_the_contract_chooses(prompts, echo_shown):
    echo_shown("none")
    sent = []

    def answer(template_id, variables, body):
        sent.append(body["messages"])
        return {"word": "w"} if len(sent) == 1 else {"word": "w", "n": 1}

    with FakeOpenAIServer(answer) as server:
        b = OpenAIBackend("fake-model", base_url=server.base_url, name="compat",
                          send_request_meta=True)
        c = test_client(b, prompts)
        await c.ask("echo", {"who": "x", "what": "y"}, schema=Answer)
        await c.aclose()
    first, again = sent
    assert first[-1]["content"] == "Say y."
    assert again[1]["content"] == "Say y." + schema_instruction(Answer.model_json_schema())
    assert again[-1]["role"] == "user" and "not valid" in again[-1]["content"]
