"""The LLM client over FakeLLM: rendering, validation, repairs, retries, fallback, budgets,
record/replay, the shared cache, accounting and routing. No network, no real waits."""

from __future__ import annotations

import asyncio
import json
import logging
import random

import pytest
from pydantic import BaseModel

from agentsim.errors import (
    BudgetExceeded,
    FatalLLMError,
    LLMConfigError,
    ReplayMiss,
    RequestRejected,
    RetryableLLMError,
)
from agentsim.llm.accounting import Budget, cost
from agentsim.llm.factory import compose
from agentsim.llm.prompts import PromptError, PromptLibrary
from agentsim.llm.record import Recorder, ReplaySource, ResponseCache
from agentsim.llm.repair import extract_json
from agentsim.testing import FakeLLM, answering, test_client

V = {"who": "x", "what": "y"}


class Answer(BaseModel):
    word: str
    n: int


@pytest.fixture
def prompts(tmp_path):
    d = tmp_path / "prompts"
    d.mkdir()
    (d / "echo.j2").write_text("[system]\nYou are {{ who }}.\n[user]\nSay {{ what }}.\n")
    (d / "_part.j2").write_text("I am {{ who }}.")
    (d / "shots.j2").write_text("[system]\n{% include '_part.j2' %}\n[user]\nQ1\n[assistant]\n"
                                "A1\n")
    (d / "plain.j2").write_text("Just {{ what }}.")
    return PromptLibrary(d)


def client(backend, prompts, **kw):
    return test_client(backend, prompts, **kw)


FALLBACK = FakeLLM(lambda t, v: {"word": "fallback", "n": 0})


# -- prompts ---------------------------------------------------------------------------------
async def test_render_and_validate(prompts):
    fake = FakeLLM(lambda tid, v: {"word": v["what"], "n": 2})
    out = await client(fake, prompts).ask("echo", {"who": "Ann", "what": "hi"}, schema=Answer)
    assert out == Answer(word="hi", n=2)
    [p] = fake.calls
    assert p.template_id == "echo" and p.variables == {"who": "Ann", "what": "hi"}
    assert p.messages[0] == {"role": "system", "content": "You are Ann."}
    assert p.messages[1] == {"role": "user", "content": "Say hi."}  # the schema rides apart
    content = p.instructed()[1]["content"]  # as a backend that cannot enforce it sends it
    assert content.startswith("Say hi.\n\nAnswer with one JSON object and nothing else, with "
                              "the keys of this example")
    assert json.loads(content.splitlines()[-1]) == {"word": "...", "n": 1}
    assert "Word" not in content  # the schema's titles are not pasted into the prompt
    assert p.json_schema == Answer.model_json_schema() and p.schema_name == "Answer"


def test_library_ids_and_messages(prompts):
    assert prompts.ids() == ["echo", "plain", "shots"]
    assert prompts.render("plain", {"what": "go"}) == ({"role": "user", "content": "Just go."},)
    assert [m["role"] for m in prompts.render("shots", {"who": "Bo"})] == \
        ["system", "user", "assistant"]


async def test_schema_instruction_goes_to_the_last_user_message(prompts):
    fake = FakeLLM(lambda t, v: {"word": "a", "n": 1})
    await client(fake, prompts).ask("shots", {"who": "Bo"}, schema=Answer)
    msgs = fake.calls[0].instructed()
    assert msgs[1]["role"] == "user" and "JSON object" in msgs[1]["content"]
    assert msgs[2] == {"role": "assistant", "content": "A1"}


async def test_prompt_errors_name_the_file_and_the_variable(prompts):
    c = client(FakeLLM(lambda t, v: "x"), prompts)
    with pytest.raises(PromptError, match=r"echo\.j2: missing variable: 'what' is undefined"):
        await c.ask("echo", {"who": "Ann"})
    with pytest.raises(PromptError, match=r"nosuch\.j2: no such prompt template"):
        await c.ask("nosuch", {})
    (prompts.directory / "bad.j2").write_text("[user]\n{% if %}\n")
    with pytest.raises(PromptError, match=r"bad\.j2:2"):
        await c.ask("bad", {})


# -- validation and repairs -------------------------------------------------------------------
@pytest.mark.parametrize("text", [
    '```json\n{"word": "a", "n": 1}\n```',
    'Sure! Here it is: {"word": "a", "n": 1} Anything else?',
    '{"word": "a", "n": 1,}',
    "{'word': 'a', 'n': 1}",
])
async def test_repairs_garbled_json_without_a_second_call(prompts, text):
    fake = FakeLLM(lambda t, v: text)
    c = client(fake, prompts)
    assert await c.ask("echo", V, schema=Answer) == Answer(word="a", n=1)
    assert len(fake.calls) == 1 and c.usage.total.repairs == 1


async def test_clean_json_counts_no_repair(prompts):
    c = client(FakeLLM(lambda t, v: '{"word": "a", "n": 1}'), prompts)
    await c.ask("echo", V, schema=Answer)
    assert c.usage.total.repairs == 0


async def test_reasks_once_with_the_validation_error(prompts):
    fake = answering('{"word": "a"}', '{"word": "a", "n": 5}')
    c = client(fake, prompts)
    assert await c.ask("echo", V, schema=Answer) == Answer(word="a", n=5)
    assert len(fake.calls) == 2
    last = fake.calls[1].messages
    assert last[-2] == {"role": "assistant", "content": '{"word": "a"}'}
    assert "not valid" in last[-1]["content"] and "n" in last[-1]["content"]
    assert c.usage.total.reasks == 1 and c.usage.total.repairs == 0  # a re-ask is no repair


async def test_falls_back_when_garbage_persists(prompts, caplog):
    fake = FakeLLM(lambda t, v: "no json here")
    c = client(fake, prompts, fallback=FALLBACK)
    with caplog.at_level(logging.WARNING, logger="agentsim.llm"):
        outs = [await c.ask("echo", V, schema=Answer, agent="ann") for _ in range(3)]
    assert all(o.word == "fallback" for o in outs)
    assert len(fake.calls) == 6  # one ask and one re-ask each, never more
    assert c.usage.total.fallbacks == 3 and c.usage.by_agent["ann"].fallbacks == 3
    assert len([r for r in caplog.records if "echo" in r.getMessage()]) == 1  # warned once


async def test_text_answers_and_empty_ones(prompts):
    c = client(answering("  hello  ", "", ""), prompts, fallback=FakeLLM(lambda t, v: "fb"))
    assert await c.ask("plain", {"what": "x"}) == "hello"
    assert await c.ask("plain", {"what": "y"}) == "fb"


async def test_without_a_fallback_a_persistent_fault_raises(prompts):
    c = client(FakeLLM(lambda t, v: "nope"), prompts)
    with pytest.raises(ValueError):
        await c.ask("echo", V, schema=Answer)


# -- retries, timeouts, fatal errors ---------------------------------------------------------
async def test_retries_with_backoff_and_honours_retry_after(prompts):
    slept = []

    async def sleep(s):
        slept.append(s)

    fake = answering(RetryableLLMError("429", retry_after=2.5), RetryableLLMError("500"),
                     {"word": "ok", "n": 1})
    c = client(fake, prompts, sleep=sleep, backoff_base=0.5)
    assert (await c.ask("echo", V, schema=Answer)).word == "ok"
    assert slept[0] >= 2.5 and 0 <= slept[1] <= 1.0  # full jitter: uniform(0, 0.5 * 2^1)
    assert c.usage.total.retries == 2 and c.usage.total.errors == 2 and c.usage.total.calls == 1


async def test_backoff_is_capped(prompts):
    slept = []

    async def sleep(s):
        slept.append(s)

    fake = answering(*[RetryableLLMError("500", retry_after=99)] * 8)
    c = client(fake, prompts, sleep=sleep, max_retries=7, backoff_max=3, fallback=FALLBACK)
    assert (await c.ask("echo", V, schema=Answer)).word == "fallback"
    assert len(slept) == 7 and max(slept) <= 3
    assert c.usage.total.fallbacks == 1


async def test_timeout_is_retried_then_falls_back(prompts):
    async def hang(t, v):
        await asyncio.sleep(10)

    c = client(FakeLLM(hang), prompts, timeout=0.01, max_retries=2, fallback=FALLBACK)
    out = await c.ask("echo", V, schema=Answer)
    assert out.word == "fallback"
    assert c.usage.total.retries == 2 and c.usage.total.errors == 3
    assert c.in_flight == 0


async def test_a_rejected_request_falls_back_without_retries(prompts):
    c = client(answering(RequestRejected("too long")), prompts, fallback=FALLBACK)
    assert (await c.ask("echo", V, schema=Answer)).word == "fallback"
    assert c.usage.total.retries == 0 and c.usage.total.errors == 1


async def test_fatal_error_is_a_config_error(prompts):
    c = client(answering(FatalLLMError("bad key")), prompts, fallback=FALLBACK)
    with pytest.raises(LLMConfigError, match="bad key"):
        await c.ask("echo", V, schema=Answer)


# -- budgets ---------------------------------------------------------------------------------
async def test_budget_is_checked_before_each_live_call(prompts):
    fake = FakeLLM(lambda t, v: {"word": "w", "n": 1})
    c = client(fake, prompts, budget=Budget(calls=2), fallback=FALLBACK)
    for w in "abc":
        await c.ask("echo", {"who": "x", "what": w}, schema=Answer)
    assert len(fake.calls) == 2 and c.usage.total.fallbacks == 1
    assert "call budget of 2" in c.budget_exceeded()
    no_fallback = client(fake, prompts, budget=Budget(tokens=1))
    await no_fallback.ask("echo", V, schema=Answer)
    with pytest.raises(BudgetExceeded, match="token budget"):
        await no_fallback.ask("echo", V, schema=Answer)


def test_budget_check():
    from agentsim.llm.accounting import Usage

    u = Usage()
    u.add("a", "t", "smart", calls=1, cost_usd=0.02)
    Budget(calls=2, usd=0.05).check(u)
    with pytest.raises(BudgetExceeded, match=r"\$0\.01"):
        Budget(usd=0.01).check(u)


# -- record, replay, cache -------------------------------------------------------------------
async def test_record_then_replay_makes_no_calls(prompts, tmp_path):
    log = tmp_path / "run" / "llm.jsonl"
    answers = iter(range(100))
    fake = FakeLLM(lambda t, v: {"word": v["what"], "n": next(answers)})
    c = client(fake, prompts, recorder=Recorder(log))
    first = [await c.ask("echo", {"who": "x", "what": w}, schema=Answer, agent="ann")
             for w in "abca"]
    await c.aclose()
    assert first[0] != first[3]  # the same request asked twice got two answers
    rec = json.loads(log.read_text().splitlines()[0])
    assert set(rec) == {"key", "template_id", "tier", "agent", "model", "origin", "text",
                        "prompt_tokens", "completion_tokens"}
    assert rec["origin"] == "model"
    assert rec["template_id"] == "echo" and rec["agent"] == "ann"

    dead = FakeLLM(lambda t, v: pytest.fail("replay must not call the backend"))
    r = client(dead, prompts, replay=ReplaySource(log))
    again = [await r.ask("echo", {"who": "x", "what": w}, schema=Answer, agent="ann")
             for w in "abcaa"]
    assert again[:4] == first and again[4] == first[3]  # beyond the recording: the last
    assert dead.calls == [] and r.usage.total.calls == 0
    with pytest.raises(ReplayMiss, match="echo"):
        await r.ask("echo", {"who": "x", "what": "new"}, schema=Answer)


def test_replay_skips_a_torn_last_line(tmp_path):
    log = tmp_path / "llm.jsonl"
    log.write_text('{"key": "k", "template_id": "t", "tier": "smart", "agent": null, '
                   '"model": "m", "text": "hi", "prompt_tokens": 1, "completion_tokens": 1}\n'
                   '{"key": "k2", "templ')
    assert len(ReplaySource(log)) == 1


async def test_shared_cache(prompts, tmp_path):
    fake = FakeLLM(lambda t, v: {"word": "w", "n": 1})
    c1 = client(fake, prompts, cache=ResponseCache(tmp_path))  # a folder: llm-cache.sqlite
    await c1.ask("echo", V, schema=Answer)
    await c1.aclose()
    c2 = client(fake, prompts, cache=ResponseCache(tmp_path / "llm-cache.sqlite"))
    assert await c2.ask("echo", V, schema=Answer) == Answer(word="w", n=1)
    assert len(fake.calls) == 1 and c2.usage.total.cache_hits == 1
    await c2.aclose()


# -- accounting, routing, concurrency --------------------------------------------------------
async def test_accounting_per_agent_template_and_tier(prompts):
    fake = FakeLLM(lambda t, v: {"word": "w", "n": 1})
    fake.model = "gpt-4o-mini"
    c = client(fake, prompts)
    await c.ask("echo", V, schema=Answer, agent="ann", tier="fast")
    await c.ask("echo", {"who": "x", "what": "z"}, schema=Answer, agent="bob")
    await c.ask("plain", {"what": "z"}, agent="bob")
    s = json.loads(json.dumps(c.usage.summary()))  # JSON-able, for the manifest
    assert s["total"]["calls"] == 3
    assert s["by_agent"]["ann"]["calls"] == 1 and s["by_agent"]["bob"]["calls"] == 2
    assert s["by_tier"]["fast"]["calls"] == 1 and s["by_tier"]["smart"]["calls"] == 2
    assert s["by_template"]["echo"]["calls"] == 2 and s["by_template"]["plain"]["calls"] == 1
    assert s["total"]["prompt_tokens"] > 0 and s["total"]["cost_usd"] > 0
    table = c.usage.table()
    assert "echo" in table and "tier:fast" in table and table.splitlines()[-1].startswith("total")
    assert c.stats()["calls"] == 3 and c.stats()["in_flight"] == 0


def test_prices():
    assert cost("gpt-4o-mini", 1_000_000, 1_000_000) == pytest.approx(0.75)
    assert cost("gpt-4o-mini-2024-07-18", 1_000_000, 0) == pytest.approx(0.15)
    assert cost("gpt-4.1-mini", 0, 1_000_000) == pytest.approx(1.6)
    assert cost("gpt-4o-mini", 10**6, 10**6, provider="ollama") == 0
    assert cost("llama3.1", 10**6, 10**6) == 0
    assert cost("mine", 10**6, 0, {"mine": (1.0, 2.0)}, provider="vllm") == 1.0


async def test_routing_by_tier(prompts):
    fast = FakeLLM(lambda t, v: {"word": "fast", "n": 1})
    smart = FakeLLM(lambda t, v: {"word": "smart", "n": 1})
    c = compose({"fast": fast, "smart": smart}, prompts, rng=random.Random(0))
    assert (await c.ask("echo", V, schema=Answer, tier="fast")).word == "fast"
    assert (await c.ask("echo", V, schema=Answer)).word == "smart"
    only_smart = compose({"smart": smart}, prompts, rng=random.Random(0))
    assert (await only_smart.ask("echo", V, schema=Answer, tier="fast")).word == "smart"


async def test_the_semaphore_bounds_calls_in_flight(prompts, in_flight_gate):
    gate = in_flight_gate(3)  # each call waits until three are in flight

    async def slow(t, v):
        await asyncio.sleep(0)  # the others could come in now
        await gate.hold()
        return {"word": "w", "n": 1}

    c = client(FakeLLM(slow), prompts, max_in_flight=3)
    await asyncio.gather(*(c.ask("echo", {"who": "x", "what": str(i)}, schema=Answer)
                           for i in range(12)))
    gate.check()
    assert c.max_in_flight_seen == 3 and c.in_flight == 0


async def test_fake_llm_takes_async_functions_and_models(prompts):
    async def fn(t, v):
        return Answer(word=t, n=len(v))

    fake = FakeLLM(fn)
    assert await client(fake, prompts).ask("echo", V, schema=Answer) == Answer(word="echo", n=2)
    assert fake.name == "fake" and fake.model == "fake" and fake.templates() == ["echo"]


def test_extract_json_refuses_what_is_not_there():
    with pytest.raises(ValueError):
        extract_json("nothing { here")


# -- lone surrogates -------------------------------------------------------------------------
LONE = "\udc00"  # e.g. from a skill's return value: no UTF-8 encoder takes it


async def test_a_lone_surrogate_in_a_variable_or_an_answer_is_no_crash(prompts, tmp_path):
    from agentsim.llm.offline.coins import unit

    log, cache = tmp_path / "llm.jsonl", ResponseCache(tmp_path / "cache.sqlite")
    fake = FakeLLM(lambda t, v: '{"word": "a\\udc00b", "n": 1}' if t == "echo" else "t" + LONE)
    c = client(fake, prompts, recorder=Recorder(log), cache=cache)
    got = await c.ask("echo", {"who": "x", "what": "y" + LONE}, schema=Answer)
    assert got == Answer(word="a\ufffdb", n=1)  # U+FFFD stands in for it
    assert await c.ask("plain", {"what": LONE}) == "t\ufffd"
    assert LONE not in fake.calls[0].messages[1]["content"]  # what was sent: valid text
    assert c.usage.total.fallbacks == 0
    await c.aclose()
    log.read_bytes().decode("utf-8")  # the record is valid UTF-8 ...
    r = client(FakeLLM(lambda t, v: pytest.fail("no call")), prompts, replay=ReplaySource(log))
    assert await r.ask("echo", {"who": "x", "what": "y" + LONE}, schema=Answer) == got  # ... and
    c2 = client(FakeLLM(lambda t, v: pytest.fail("no call")), prompts,  # replays, as the
                cache=ResponseCache(tmp_path / "cache.sqlite"))         # cache does
    assert await c2.ask("echo", {"who": "x", "what": "y" + LONE}, schema=Answer) == got
    await c2.aclose()
    assert 0 <= unit(0, "ann", LONE) < 1  # the offline mind's coins take it too
    assert unit(0, "ann") == unit(0, "ann")


def test_a_lone_surrogate_reaches_the_event_log_and_the_embedder_intact(tmp_path):
    from datetime import datetime

    from agentsim.events import WorldEvent
    from agentsim.memory.embed import make_embedder
    from agentsim.rundir import RunDir

    rd = RunDir.create(tmp_path, "w", 0)
    rd.append(WorldEvent(tick=0, time=datetime(2023, 2, 13), place=None, text="x" + LONE))
    rd.close()
    rd.events_path.read_bytes().decode("utf-8")
    assert rd.read_events()[0].text == "x\ufffd"
    emb = make_embedder("hash", cache_path=tmp_path / "emb.sqlite")
    assert emb.embed(["x" + LONE]).shape == (1, emb.dim)


# -- giving up on a server that is gone ------------------------------------------------------
async def test_a_dead_server_is_given_up_after_some_failed_calls_in_a_row(prompts):
    from agentsim.errors import LLMUnavailable

    def refuse(t, v):
        raise RetryableLLMError("connection refused")

    dead = FakeLLM(refuse)
    c = client(dead, prompts, max_retries=2, fallback=FALLBACK, give_up_failures=3)
    assert (await c.ask("echo", V, schema=Answer)).word == "fallback"  # one failed call: fine
    assert c.failed_in_a_row == 1
    with pytest.raises(LLMUnavailable, match=r"seems down \(fake:fake\): 3 LLM calls in a row"):
        await asyncio.gather(*(c.ask("echo", {"who": "x", "what": str(i)}, schema=Answer)
                               for i in range(10)))
    tried = len(dead.calls)
    with pytest.raises(LLMUnavailable):  # from now on every call fails at once
        await c.ask("echo", {"who": "x", "what": "later"}, schema=Answer)
    assert len(dead.calls) == tried and c.gave_up


async def test_an_answer_resets_the_count_of_failed_calls(prompts):
    n = iter(range(1000))

    def flaky(t, v):  # every other call fails for good, the rest answer
        if next(n) % 4 < 2:
            raise RetryableLLMError("503")
        return {"word": "w", "n": 1}

    c = client(FakeLLM(flaky), prompts, max_retries=1, fallback=FALLBACK, give_up_failures=2)
    outs = [await c.ask("echo", {"who": "x", "what": str(i)}, schema=Answer) for i in range(20)]
    assert {o.word for o in outs} == {"w", "fallback"} and c.gave_up is None


async def test_a_hanging_server_is_given_up_after_a_while_without_an_answer(prompts):
    from agentsim.errors import LLMUnavailable

    async def hang(t, v):
        await asyncio.Event().wait()

    c = client(FakeLLM(hang), prompts, timeout=3600, fallback=FALLBACK, give_up_after=0.2)
    with pytest.raises(LLMUnavailable, match=r"no LLM call succeeded for 0\.2s"):
        await asyncio.gather(*(c.ask("echo", {"who": "x", "what": str(i)}, schema=Answer)
                               for i in range(5)))
    await asyncio.sleep(0)
    assert c.in_flight == 0 and c.usage.total.fallbacks == 0


async def test_idle_time_is_no_outage(prompts, watchdog_clock):
    c = client(FakeLLM(lambda t, v: {"word": "w", "n": 1}), prompts, give_up_after=0.05)
    await c.ask("echo", V, schema=Answer)
    watchdog_clock.advance(0.1)  # nothing asked meanwhile
    assert (await c.ask("echo", {"who": "x", "what": "z"}, schema=Answer)).word == "w"
