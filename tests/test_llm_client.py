"""The LLM client: validation, repairs, retries, fallback, record/replay, accounting, routing,
and the OpenAI-compatible backend against the fake server."""

from __future__ import annotations

import asyncio
import random
import time

import pytest
from pydantic import BaseModel

from agentsim.errors import LLMConfigError
from agentsim.llm.accounting import Budget
from agentsim.llm.client import LLMClient
from agentsim.llm.config import load_settings, parse_spec
from agentsim.llm.errors import ReplayMiss, RetryableLLMError
from agentsim.llm.openai_backend import OpenAIBackend
from agentsim.llm.prompts import PromptError, PromptLibrary
from agentsim.llm.record import Recorder, ReplaySource, ResponseCache
from agentsim.llm.repair import extract_json
from agentsim.testing import FakeLLM, FakeOpenAIServer


class Answer(BaseModel):
    word: str
    n: int


@pytest.fixture
def prompts(tmp_path):
    (tmp_path / "echo.j2").write_text("[system]\nYou are {{ who }}.\n[user]\nSay {{ what }}.\n")
    return PromptLibrary(tmp_path)


def client(backend, prompts, **kw):
    kw.setdefault("rng", random.Random(0))
    kw.setdefault("sleep", _no_sleep)
    return LLMClient({"smart": backend, "fast": backend}, prompts, **kw)


async def _no_sleep(_s):
    return None


async def test_render_and_validate(prompts):
    fake = FakeLLM(lambda tid, v: {"word": v["what"], "n": 2})
    out = await client(fake, prompts).ask("echo", {"who": "Ann", "what": "hi"}, schema=Answer)
    assert out == Answer(word="hi", n=2)
    [p] = fake.calls
    assert p.messages[0] == {"role": "system", "content": "You are Ann."}
    assert p.messages[1]["content"].startswith("Say hi.")
    assert "JSON schema" in p.messages[1]["content"]


async def test_missing_variable_names_the_template(prompts):
    with pytest.raises(PromptError, match=r"echo\.j2.*what"):
        await client(FakeLLM(lambda t, v: "x"), prompts).ask("echo", {"who": "Ann"})


@pytest.mark.parametrize("text", [
    '```json\n{"word": "a", "n": 1}\n```',
    'Sure! Here it is: {"word": "a", "n": 1} Anything else?',
    '{"word": "a", "n": 1,}',
    "{'word': 'a', 'n': 1}",
])
async def test_repairs_garbled_json_without_a_second_call(prompts, text):
    fake = FakeLLM(lambda t, v: text)
    c = client(fake, prompts)
    assert await c.ask("echo", {"who": "x", "what": "y"}, schema=Answer) == Answer(word="a", n=1)
    assert len(fake.calls) == 1


async def test_reasks_with_the_validation_error(prompts):
    answers = iter(['{"word": "a"}', '{"word": "a", "n": 5}'])
    fake = FakeLLM(lambda t, v: next(answers))
    c = client(fake, prompts)
    assert await c.ask("echo", {"who": "x", "what": "y"}, schema=Answer) == Answer(word="a", n=5)
    assert len(fake.calls) == 2
    assert "not valid" in fake.calls[1].messages[-1]["content"]
    assert c.usage.total.repairs == 1


async def test_falls_back_when_garbage_persists(prompts):
    fallback = FakeLLM(lambda t, v: {"word": "fallback", "n": 0})
    c = client(FakeLLM(lambda t, v: "no json here"), prompts, fallback=fallback)
    out = await c.ask("echo", {"who": "x", "what": "y"}, schema=Answer, agent="ann")
    assert out.word == "fallback"
    assert c.usage.total.fallbacks == 1 and c.usage.by_agent["ann"].fallbacks == 1


async def test_retries_with_backoff_and_honours_retry_after(prompts):
    failures = iter([RetryableLLMError("429", retry_after=2.5), RetryableLLMError("500")])
    slept = []

    async def sleep(s):
        slept.append(s)

    def fn(t, v):
        e = next(failures, None)
        if e:
            raise e
        return {"word": "ok", "n": 1}

    c = client(FakeLLM(fn), prompts, sleep=sleep, backoff_base=0.5)
    assert (await c.ask("echo", {"who": "x", "what": "y"}, schema=Answer)).word == "ok"
    assert slept[0] >= 2.5 and 0 <= slept[1] <= 1.0
    assert c.usage.total.retries == 2


async def test_timeout_is_retried_then_falls_back(prompts):
    async def hang(t, v):
        await asyncio.sleep(10)

    c = client(FakeLLM(hang), prompts, timeout=0.01, max_retries=2,
               fallback=FakeLLM(lambda t, v: {"word": "fb", "n": 0}))
    out = await c.ask("echo", {"who": "x", "what": "y"}, schema=Answer)
    assert out.word == "fb"
    assert c.usage.total.retries == 2 and c.usage.total.errors == 3


async def test_record_then_replay_makes_no_calls(prompts, tmp_path):
    log = tmp_path / "llm.jsonl"
    fake = FakeLLM(lambda t, v: {"word": v["what"], "n": len(v["what"])})
    c = client(fake, prompts, recorder=Recorder(log))
    first = [await c.ask("echo", {"who": "x", "what": w}, schema=Answer) for w in "abca"]
    await c.aclose()

    dead = FakeLLM(lambda t, v: pytest.fail("replay must not call the backend"))
    r = client(dead, prompts, replay=ReplaySource(log))
    again = [await r.ask("echo", {"who": "x", "what": w}, schema=Answer) for w in "abca"]
    assert again == first and dead.calls == []
    with pytest.raises(ReplayMiss, match="echo"):
        await r.ask("echo", {"who": "x", "what": "new"}, schema=Answer)


async def test_shared_cache(prompts, tmp_path):
    fake = FakeLLM(lambda t, v: {"word": "w", "n": 1})
    c1 = client(fake, prompts, cache=ResponseCache(tmp_path / "cache.sqlite"))
    await c1.ask("echo", {"who": "x", "what": "y"}, schema=Answer)
    await c1.aclose()
    c2 = client(fake, prompts, cache=ResponseCache(tmp_path / "cache.sqlite"))
    await c2.ask("echo", {"who": "x", "what": "y"}, schema=Answer)
    assert len(fake.calls) == 1 and c2.usage.total.cache_hits == 1


async def test_accounting_and_budget(prompts):
    fake = FakeLLM(lambda t, v: {"word": "w", "n": 1})
    fake.model = "gpt-4o-mini"
    c = client(fake, prompts, budget=Budget(calls=2))
    await c.ask("echo", {"who": "x", "what": "y"}, schema=Answer, agent="ann", tier="fast")
    assert c.budget_exceeded() is None
    await c.ask("echo", {"who": "x", "what": "z"}, schema=Answer, agent="bob")
    assert "budget" in c.budget_exceeded()
    s = c.usage.summary()
    assert s["by_agent"]["ann"]["calls"] == 1 and s["by_tier"]["fast"]["calls"] == 1
    assert s["total"]["cost_usd"] > 0
    assert "echo" in c.usage.table()


async def test_routing_by_tier(prompts):
    fast = FakeLLM(lambda t, v: {"word": "fast", "n": 1})
    smart = FakeLLM(lambda t, v: {"word": "smart", "n": 1})
    c = LLMClient({"fast": fast, "smart": smart}, prompts, rng=random.Random(0))
    assert (await c.ask("echo", {"who": "x", "what": "y"}, schema=Answer, tier="fast")).word \
        == "fast"
    assert (await c.ask("echo", {"who": "x", "what": "y"}, schema=Answer)).word == "smart"


def test_extract_json_refuses_what_is_not_there():
    with pytest.raises(ValueError):
        extract_json("nothing { here")


# -- config --------------------------------------------------------------------------------
def test_spec_grammar():
    env = {"OPENAI_API_KEY": "sk-test"}
    t = parse_spec("ollama:qwen2.5:3b", env)
    assert t["fast"].base_url == "http://localhost:11434/v1" and t["fast"].model == "qwen2.5:3b"
    t = parse_spec("fast=ollama:qwen2.5:3b,smart=openai:gpt-4o-mini", env)
    assert t["fast"].provider == "ollama" and t["smart"].provider == "openai"
    t = parse_spec("vllm:Qwen/Qwen2.5-7B-Instruct@http://gpu:8000/v1", env)
    assert t["smart"].base_url == "http://gpu:8000/v1"
    assert parse_spec("offline", {})["smart"].provider == "offline"
    t = parse_spec("openai:gpt-4o-mini", {**env, "OPENAI_BASE_URL": "http://proxy/v1"})
    assert t["smart"].base_url == "http://proxy/v1"


def test_missing_key_says_what_to_set():
    with pytest.raises(LLMConfigError, match=r"OPENAI_API_KEY.*ollama:MODEL"):
        parse_spec("openai:gpt-4o-mini", {})


def test_unknown_provider():
    with pytest.raises(LLMConfigError, match="unknown LLM spec"):
        parse_spec("nosuch:model", {})


def test_settings_precedence(tmp_path):
    conf = tmp_path / "agentsim.toml"
    conf.write_text('[llm]\nspec = "ollama:a"\nmax_in_flight = 7\nbudget_usd = 1.5\n')
    s = load_settings(None, conf, env={})
    assert s.tiers["smart"].model == "a" and s.max_in_flight == 7 and s.budget_usd == 1.5
    assert load_settings(None, conf, env={"AGENTSIM_LLM": "ollama:b"}).tiers["smart"].model == "b"
    assert load_settings("ollama:c", conf, env={}).tiers["smart"].model == "c"
    assert load_settings(None, None, env={"OPENAI_API_KEY": "k"}).tiers["smart"].provider \
        == "offline"
    conf.write_text("[llm]\nspecc = 1\n")
    with pytest.raises(LLMConfigError, match=r"llm\.specc"):
        load_settings(None, conf, env={})


# -- the OpenAI-compatible backend against the fake server ----------------------------------
async def test_backend_against_fake_server(prompts):
    with FakeOpenAIServer(lambda t, v: {"word": v["what"], "n": 3}) as server:
        backend = OpenAIBackend("fake-model", base_url=server.base_url, name="compat",
                                send_request_meta=True)
        c = client(backend, prompts)
        out = await c.ask("echo", {"who": "x", "what": "hello"}, schema=Answer)
        assert out == Answer(word="hello", n=3)
        assert c.usage.total.prompt_tokens > 0
        await c.aclose()


async def test_downgrades_response_format_when_rejected(prompts):
    with FakeOpenAIServer(lambda t, v: {"word": "a", "n": 1}, reject_json_schema=True) as server:
        backend = OpenAIBackend("m", base_url=server.base_url, send_request_meta=True)
        c = client(backend, prompts)
        assert (await c.ask("echo", {"who": "x", "what": "y"}, schema=Answer)).n == 1
        assert backend.mode == "json_object"
        assert server.by_status["400"] == 1 and server.by_status["200"] == 1
        await c.ask("echo", {"who": "x", "what": "z"}, schema=Answer)
        assert server.by_status["400"] == 1  # remembered
        await c.aclose()


async def test_schema_only_server_answers_a_valid_instance(prompts):
    with FakeOpenAIServer() as server:  # no meta: it answers from the JSON schema alone
        c = client(OpenAIBackend("m", base_url=server.base_url), prompts)
        out = await c.ask("echo", {"who": "x", "what": "y"}, schema=Answer)
        assert isinstance(out, Answer)
        await c.aclose()


async def test_faults_are_survived(prompts):
    faults = {"429": 0.15, "500": 0.15, "hang": 0.1, "malformed": 0.15}
    with FakeOpenAIServer(lambda t, v: {"word": "w", "n": 1}, faults=faults, seed=3) as server:
        backend = OpenAIBackend("m", base_url=server.base_url, send_request_meta=True)
        c = client(backend, prompts, timeout=0.3,
                   fallback=FakeLLM(lambda t, v: {"word": "fb", "n": 0}))
        outs = await asyncio.gather(*(c.ask("echo", {"who": "x", "what": str(i)}, schema=Answer)
                                      for i in range(40)))
        assert len(outs) == 40
        t = c.usage.total
        assert t.retries > 0 and t.repairs + t.fallbacks >= 0
        assert server.by_status["429"] + server.by_status["500"] > 0
        await c.aclose()


async def test_calls_are_in_flight_together(prompts):
    with FakeOpenAIServer(lambda t, v: {"word": "w", "n": 1}, latency=0.2) as server:
        backend = OpenAIBackend("m", base_url=server.base_url, send_request_meta=True)
        c = client(backend, prompts)
        t0 = time.perf_counter()
        await asyncio.gather(*(c.ask("echo", {"who": "x", "what": str(i)}, schema=Answer)
                               for i in range(30)))
        assert time.perf_counter() - t0 < 1.5
        assert server.max_in_flight >= 20
        await c.aclose()


async def test_wrong_key_is_a_config_error(prompts):
    class Refusing(FakeOpenAIServer):
        async def _complete(self, req):
            return 401, {}, '{"error": {"message": "bad key"}}'

    with Refusing() as server:
        c = client(OpenAIBackend("m", base_url=server.base_url, name="openai"), prompts)
        with pytest.raises(LLMConfigError, match="API key"):
            await c.ask("echo", {"who": "x", "what": "y"}, schema=Answer)
        await c.aclose()


def test_network_guard_blocks_real_addresses():
    import socket

    s = socket.socket()
    with pytest.raises(RuntimeError, match="network access in tests"):
        s.connect(("10.255.255.1", 80))
    s.close()
