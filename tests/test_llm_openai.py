"""The OpenAI-compatible backend against the fake server on 127.0.0.1: structured output and
its downgrade, error mapping, retries, faults, and calls in flight together."""

from __future__ import annotations

import asyncio
import socket

import pytest
from pydantic import BaseModel

from agentsim.errors import LLMConfigError
from agentsim.llm.openai_backend import OpenAIBackend, retry_after
from agentsim.testing import FakeLLM, FakeOpenAIServer, test_client

V = {"who": "x", "what": "y"}


class Answer(BaseModel):
    word: str
    n: int


def backend(server, **kw):
    kw.setdefault("send_request_meta", True)
    return OpenAIBackend("fake-model", base_url=server.base_url, name="compat", **kw)


class Scripted(FakeOpenAIServer):
    """Answers the listed (status, headers, body) first, then as the fake server does;
    keeps every request body in `bodies`."""

    def __init__(self, *script, **kw):
        super().__init__(lambda t, v: {"word": "ok", "n": 1}, **kw)
        self.script = list(script)
        self.bodies: list[dict] = []

    async def _complete(self, req):
        self.bodies.append(req)
        if self.script:
            return self.script.pop(0)
        return await super()._complete(req)


def err(message, **fields):
    import json

    return json.dumps({"error": {"message": message, **fields}})


async def test_answers_through_the_responder(prompts):
    seen = []

    def responder(template_id, variables, body):
        seen.append(body)
        return {"word": variables["what"], "n": 3}

    with FakeOpenAIServer(responder) as server:
        c = test_client(backend(server), prompts)
        assert await c.ask("echo", {"who": "x", "what": "hello"}, schema=Answer) == \
            Answer(word="hello", n=3)
        await c.aclose()
    [body] = seen
    assert body["agentsim"]["template_id"] == "echo" and body["seed"] == 0
    assert body["response_format"]["type"] == "json_schema"
    assert body["response_format"]["json_schema"]["schema"] == Answer.model_json_schema()
    assert body["response_format"]["json_schema"]["strict"] is False
    assert c.usage.total.prompt_tokens > 0 and c.usage.total.completion_tokens > 0


async def test_without_meta_the_server_answers_from_the_schema(prompts):
    with Scripted() as server:
        c = test_client(backend(server, send_request_meta=False), prompts)
        assert isinstance(await c.ask("echo", V, schema=Answer), Answer)
        assert "agentsim" not in server.bodies[0]
        await c.aclose()


async def test_downgrades_response_format_once_and_remembers(prompts):
    with FakeOpenAIServer(lambda t, v: {"word": "a", "n": 1}, reject_json_schema=True) as server:
        b = backend(server)
        c = test_client(b, prompts)
        outs = await asyncio.gather(*(c.ask("echo", {"who": "x", "what": str(i)}, schema=Answer)
                                      for i in range(10)))
        assert all(o.n == 1 for o in outs)
        assert b.mode == "json_object_schema"  # concurrent 400s step down once, not each
        rejected = server.by_status["400"]
        await c.ask("echo", {"who": "x", "what": "z"}, schema=Answer)
        assert server.by_status["400"] == rejected  # remembered
        assert c.usage.total.fallbacks == 0
        await c.aclose()


async def test_downgrades_to_plain_prompts_when_json_object_is_refused_too(prompts):
    bad = (400, {}, err("Unknown parameter: response_format", param="response_format"))
    with Scripted(bad, bad, bad) as server:
        b = backend(server)
        c = test_client(b, prompts)
        assert await c.ask("echo", V, schema=Answer) == Answer(word="ok", n=1)
        assert b.mode == "none" and "response_format" not in server.bodies[-1]
        await c.aclose()


async def test_adapts_to_refused_parameters(prompts):
    with Scripted(
        (400, {}, err("Unsupported parameter: 'max_tokens' is not supported with this model. "
                      "Use 'max_completion_tokens' instead.", param="max_tokens")),
        (400, {}, err("Unsupported value: 'temperature' does not support 0.7 with this model.",
                      param="temperature")),
    ) as server:
        b = backend(server)
        c = test_client(b, prompts)
        assert (await c.ask("echo", V, schema=Answer)).word == "ok"
        last = server.bodies[-1]
        assert "max_completion_tokens" in last and "max_tokens" not in last
        assert "temperature" not in last
        await c.aclose()


async def test_429_and_500_are_retried_honouring_retry_after(prompts):
    slept = []

    async def sleep(s):
        slept.append(s)

    with Scripted((429, {"retry-after": "7"}, err("slow down")),
                  (503, {"retry-after-ms": "1500"}, err("busy"))) as server:
        c = test_client(backend(server), prompts, sleep=sleep, backoff_base=0.01)
        assert (await c.ask("echo", V, schema=Answer)).word == "ok"
        assert slept[0] >= 7 and slept[1] >= 1.5
        assert c.usage.total.retries == 2
        await c.aclose()


def test_retry_after_headers():
    assert retry_after({"retry-after-ms": "250"}) == 0.25
    assert retry_after({"retry-after": "3"}) == 3.0
    assert retry_after({"retry-after": "Wed, 21 Oct 2015 07:28:00 GMT"}) == 0.0  # past
    assert retry_after({"retry-after": "soon"}) is None and retry_after({}) is None


@pytest.mark.parametrize(("status", "body", "match"), [
    (401, err("Incorrect API key provided"), "refused the API key"),
    (403, err("forbidden"), "refused the API key"),
    (404, err("model 'nope' not found"), "has no model 'fake-model'"),
    (429, err("You exceeded your current quota", code="insufficient_quota"), "no quota"),
])
async def test_fatal_errors_are_config_errors(prompts, status, body, match):
    with Scripted((status, {}, body)) as server:
        c = test_client(backend(server), prompts,
                   fallback=FakeLLM(lambda t, v: {"word": "fb", "n": 0}))
        with pytest.raises(LLMConfigError, match=match):
            await c.ask("echo", V, schema=Answer)
        await c.aclose()


async def test_other_client_errors_fall_back(prompts):
    with Scripted((400, {}, err("maximum context length is 4096 tokens"))) as server:
        c = test_client(backend(server), prompts,
                   fallback=FakeLLM(lambda t, v: {"word": "fb", "n": 0}))
        assert (await c.ask("echo", V, schema=Answer)).word == "fb"
        assert server.requests == 1 and c.usage.total.fallbacks == 1
        await c.aclose()


async def test_connection_refused_is_retried_then_falls_back(prompts):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # closed again on exit: nothing listens there
    b = OpenAIBackend("m", base_url=f"http://127.0.0.1:{port}/v1", name="ollama")
    c = test_client(b, prompts, max_retries=2,
                    fallback=FakeLLM(lambda t, v: {"word": "fb", "n": 0}))
    assert (await c.ask("echo", V, schema=Answer)).word == "fb"
    assert c.usage.total.retries == 2
    await c.aclose()


async def test_tokens_are_estimated_when_the_server_reports_none(prompts):
    import json

    reply = json.dumps({"id": "x", "object": "chat.completion", "created": 0, "model": "m",
                        "choices": [{"index": 0, "finish_reason": "stop", "message": {
                            "role": "assistant", "content": '{"word": "abc", "n": 1}'}}]})
    with Scripted((200, {}, reply)) as server:
        c = test_client(backend(server), prompts)
        await c.ask("echo", V, schema=Answer)
        t = c.usage.total
        # 4 characters a token of what was sent: a local server's prompt keeps the example
        # (with the lead for a server that enforces the schema)
        from agentsim.llm.client import output_instruction
        sent = "You are x.Say y." + output_instruction(Answer, enforced=True)
        assert t.prompt_tokens == len(sent) // 4 > len("You are x.Say y.") // 4
        assert t.completion_tokens == len('{"word": "abc", "n": 1}') // 4
        await c.aclose()


@pytest.mark.parametrize(("structured", "instructed"), [
    ("json_schema", True), ("json_object_schema", True), ("json_object", True), ("none", True)])
async def test_a_local_server_gets_the_example_in_the_prompt_in_every_mode(
        prompts, structured, instructed):
    """A local server enforces a schema with a grammar the model never reads."""
    sent = []

    def answer(template_id, variables, body):
        sent.append(body["messages"][-1]["content"])
        return {"word": "w", "n": 1}

    with FakeOpenAIServer(answer) as server:
        c = test_client(backend(server, structured=structured), prompts)
        assert await c.ask("echo", V, schema=Answer) == Answer(word="w", n=1)
        await c.aclose()
    assert sent[0].startswith("Say y.")
    assert ("with the keys of this example" in sent[0]) is instructed


async def test_faults_are_survived(prompts):
    faults = {"429": 0.15, "500": 0.15, "hang": 0.1, "malformed": 0.15}
    with FakeOpenAIServer(lambda t, v: {"word": "w", "n": 1}, faults=faults, seed=3) as server:
        c = test_client(backend(server), prompts, timeout=0.3,
                   fallback=FakeLLM(lambda t, v: {"word": "fb", "n": 0}))
        outs = await asyncio.gather(*(c.ask("echo", {"who": "x", "what": str(i)}, schema=Answer)
                                      for i in range(40)))
        assert all(isinstance(o, Answer) for o in outs)
        t = c.usage.total
        assert t.retries > 0 and t.repairs > 0 and t.errors >= t.retries
        assert server.by_status["429"] > 0 and server.by_status["500"] > 0
        await c.aclose()


async def test_calls_are_in_flight_together(prompts, in_flight_gate):
    """The server holds each answer until 20 requests are in flight: the calls end only if
    the client really sends them together (wall time: benchmarks/bench_fake_server.py)."""
    gate = in_flight_gate(20)

    async def held(t, v):
        await gate.hold()
        return {"word": "w", "n": 1}

    with FakeOpenAIServer(held) as server:
        c = test_client(backend(server), prompts)
        await asyncio.gather(*(c.ask("echo", {"who": "x", "what": str(i)}, schema=Answer)
                               for i in range(30)))
        gate.check()
        assert server.max_in_flight >= 20 and c.max_in_flight_seen >= 20
        await c.aclose()


@pytest.mark.parametrize("reply", ['{"weird": true}', '{"choices": [{"index": 0}]}',
                                   "<html>bad gateway</html>", ""])
async def test_odd_replies_fall_back_instead_of_crashing(prompts, reply):
    with Scripted((200, {}, reply), (200, {}, reply)) as server:
        c = test_client(backend(server), prompts, max_retries=1,
                   fallback=FakeLLM(lambda t, v: {"word": "fb", "n": 0}))
        assert isinstance(await c.ask("echo", V, schema=Answer), Answer)
        await c.aclose()


async def test_an_html_page_with_status_200_is_retried_not_a_crash(prompts):
    from agentsim.testing.fake_server import HTML_PAGE

    html = (200, {"content-type": "text/html; charset=utf-8"}, HTML_PAGE)
    with Scripted(html) as server:  # once: the retry gets a real answer
        c = test_client(backend(server), prompts)
        assert await c.ask("echo", V, schema=Answer) == Answer(word="ok", n=1)
        assert c.usage.total.retries == 1 and c.usage.total.fallbacks == 0
        await c.aclose()
    with FakeOpenAIServer(lambda t, v: {"word": "w", "n": 1}, faults={"html": 1.0}) as server:
        c = test_client(backend(server), prompts, max_retries=2,
                   fallback=FakeLLM(lambda t, v: {"word": "fb", "n": 0}))
        assert (await c.ask("echo", V, schema=Answer)).word == "fb"
        assert c.usage.total.retries == 2 and server.by_status["200"] == 3
        await c.aclose()


@pytest.mark.parametrize("reply", ["[1, 2]", '"just a string"', "null", "42",
                                   '{"choices": "many"}', '{"choices": [{"message": "hi"}]}',
                                   '{"choices": [{"message": {"content": {"word": "x"}}}]}',
                                   '{"choices": [], "usage": "lots", "model": 7}'])
async def test_json_that_is_no_chat_completion_falls_back_instead_of_crashing(prompts, reply):
    with Scripted(*[(200, {}, reply)] * 4) as server:
        c = test_client(backend(server), prompts, max_retries=1,
                   fallback=FakeLLM(lambda t, v: {"word": "fb", "n": 0}))
        assert isinstance(await c.ask("echo", V, schema=Answer), Answer)
        await c.aclose()


def test_openai_api_reads_the_schema_from_response_format_so_the_prompt_leaves_it_out():
    from agentsim.llm.base import Prompt

    p = Prompt(template_id="echo", variables={}, messages=({"role": "user", "content": "Say y."},),
               json_schema={"type": "object"}, schema_name="answer",
               instruction=" Answer with one JSON object.")
    hosted = OpenAIBackend("gpt-4o-mini", base_url=None, name="openai", api_key="sk-test")
    local = OpenAIBackend("m", base_url="http://127.0.0.1:9/v1", name="vllm")
    assert hosted._messages(p, "json_schema")[-1]["content"] == "Say y."
    assert hosted._messages(p, "json_object")[-1]["content"].endswith("JSON object.")
    assert local._messages(p, "json_schema")[-1]["content"].endswith("JSON object.")
