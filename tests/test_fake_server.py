"""The fake OpenAI-compatible server, the JSON-schema example generator, and the network
guard of conftest.py."""

from __future__ import annotations

import asyncio
import json
import random
import socket
from typing import Literal

import httpx
import pytest
from pydantic import BaseModel, Field

from agentsim.cognition.schemas import TEMPLATES
from agentsim.testing import FakeLLM, FakeOpenAIServer
from agentsim.testing.fake_server import example_for


def chat(**extra):
    return {"model": "m", "messages": [{"role": "user", "content": "hi"}], **extra}


# -- example_for ----------------------------------------------------------------------------
@pytest.mark.parametrize("template_id", sorted(TEMPLATES))
def test_examples_validate_for_every_template(template_id):
    model, _tier = TEMPLATES[template_id]
    model.model_validate(example_for(model.model_json_schema()))


def test_examples_respect_bounds_enums_and_refs():
    class Inner(BaseModel):
        kind: Literal["a", "b"]
        score: int = Field(ge=3, le=9)
        ratio: float = Field(gt=0.5, lt=0.7)

    class Outer(BaseModel):
        name: str = Field(min_length=5, max_length=6)
        items: list[Inner] = Field(min_length=2)
        maybe: Inner | None = None
        pair: tuple[int, str]

    value = example_for(Outer.model_json_schema())
    out = Outer.model_validate(value)
    assert len(out.items) == 2 and out.items[0].kind == "a" and out.items[0].score == 3


# -- the server ------------------------------------------------------------------------------
async def test_models_and_chat_over_http():
    with FakeOpenAIServer(lambda t, v, body: {"t": t, "v": v, "model": body["model"]}) as s:
        async with httpx.AsyncClient(base_url=s.base_url) as http:
            models = (await http.get("/models")).json()
            assert models["data"][0]["id"] == "fake-model"
            r = await http.post("/chat/completions", json=chat(
                agentsim={"template_id": "t1", "variables": {"a": 1}}))
            body = r.json()
            assert json.loads(body["choices"][0]["message"]["content"]) == \
                {"t": "t1", "v": {"a": 1}, "model": "m"}
            assert body["usage"]["prompt_tokens"] >= 0
            plain = (await http.post("/chat/completions", json=chat())).json()
            assert plain["choices"][0]["message"]["content"] == "ok"
            missing = await http.get("/nope")
            assert missing.status_code == 404
        assert s.requests == 2 and s.by_status["200"] == 2
        s.reset_stats()
        assert s.requests == 0 and not s.by_status


async def test_a_broken_responder_is_a_500_not_a_dead_server():
    def boom(t, v):
        raise KeyError(t)

    with FakeOpenAIServer(boom) as s:
        async with httpx.AsyncClient(base_url=s.base_url) as http:
            r = await http.post("/chat/completions",
                                json=chat(agentsim={"template_id": "x", "variables": {}}))
            assert r.status_code == 500 and "KeyError" in r.text
            assert (await http.get("/models")).status_code == 200


async def _post_twice(port: int) -> list[int]:
    """Two requests on one kept-alive connection, with plain asyncio streams (httpx's own
    pool, not the server, is the slow part at hundreds of connections)."""
    body = json.dumps(chat(agentsim={"template_id": "t", "variables": {}})).encode()
    request = (b"POST /v1/chat/completions HTTP/1.1\r\nhost: t\r\ncontent-type: "
               b"application/json\r\ncontent-length: %d\r\n\r\n%s" % (len(body), body))
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    statuses = []
    for _ in range(2):
        writer.write(request)
        head = (await reader.readuntil(b"\r\n\r\n")).decode().split("\r\n")
        size = next(int(h.split(":")[1]) for h in head if h.lower().startswith("content-length"))
        json.loads(await reader.readexactly(size))
        statuses.append(int(head[0].split()[1]))
    writer.close()
    return statuses


async def test_hundreds_of_concurrent_connections(in_flight_gate):
    """300 connections, two requests each: every answer of a round waits until all 300 of
    that round are in flight, so the run ends only if the server serves them all at once
    (requests per second: benchmarks/bench_fake_server.py)."""
    gates = [in_flight_gate(300), in_flight_gate(300)]
    arrived = 0  # a second request is sent once the first is answered: the rounds never mix

    async def held(t, v):
        nonlocal arrived
        arrived += 1
        await gates[(arrived - 1) // 300].hold()
        return {"ok": True}

    with FakeOpenAIServer(held) as s:
        results = await asyncio.gather(*(_post_twice(s.port) for _ in range(300)))
    for gate in gates:
        gate.check()
    assert all(r == [200, 200] for r in results) and s.requests == 600
    assert s.max_in_flight == 300 and s.in_flight == 0


async def test_faults_are_seeded():
    faults = {"429": 0.2, "500": 0.2, "malformed": 0.2}

    async def statuses(seed):
        with FakeOpenAIServer(faults=faults, seed=seed) as s:
            async with httpx.AsyncClient(base_url=s.base_url) as http:
                rs = [await http.post("/chat/completions", json=chat()) for _ in range(40)]
        return [r.status_code for r in rs], rs

    first, rs = await statuses(1)
    again, _ = await statuses(1)
    assert first == again and {200, 429, 500} <= set(first)
    r429 = next(r for r in rs if r.status_code == 429)
    assert r429.headers["retry-after"] and r429.headers["retry-after-ms"]


async def test_hang_outlasts_a_client_timeout():
    with FakeOpenAIServer(faults={"hang": 1.0}) as s:
        async with httpx.AsyncClient(base_url=s.base_url, timeout=0.1) as http:
            with pytest.raises(httpx.ReadTimeout):
                await http.post("/chat/completions", json=chat())


async def test_reject_json_schema():
    fmt = {"type": "json_schema", "json_schema": {"name": "a", "schema": {"type": "object"}}}
    with FakeOpenAIServer(reject_json_schema=True) as s:
        async with httpx.AsyncClient(base_url=s.base_url) as http:
            r = await http.post("/chat/completions", json=chat(response_format=fmt))
            assert r.status_code == 400 and "json_schema" in r.text
            ok = await http.post("/chat/completions",
                                 json=chat(response_format={"type": "json_object"}))
            assert ok.status_code == 200


def test_unknown_faults_are_refused():
    with pytest.raises(ValueError, match="faults"):
        FakeOpenAIServer(faults={"404": 0.1})


# -- the network guard -----------------------------------------------------------------------
def test_network_guard_blocks_real_addresses(offline):
    s = socket.socket()
    with pytest.raises(RuntimeError, match=r"network access in tests: \('10\.255\.255\.1'"):
        s.connect(("10.255.255.1", 80))
    with pytest.raises(RuntimeError, match="network access in tests"):
        s.connect_ex(("10.255.255.1", 80))
    s.close()
    with pytest.raises(RuntimeError, match="network access in tests"):
        socket.create_connection(("10.255.255.1", 443), timeout=1)
    with pytest.raises(RuntimeError, match=r"network access in tests: 'api\.openai\.com'"):
        socket.getaddrinfo("api.openai.com", 443)
    assert len(offline) == 4
    offline.clear()  # meant to: do not fail this test at teardown


async def test_network_guard_stops_http_clients_too(offline):
    async with httpx.AsyncClient(timeout=1) as http:
        with pytest.raises(RuntimeError, match=r"network access in tests: 'api\.openai\.com'"):
            await http.get("https://api.openai.com/v1/models")
    offline.clear()


async def test_the_llm_client_cannot_reach_the_real_api(offline, tmp_path):
    from agentsim.llm.factory import compose
    from agentsim.llm.openai_backend import OpenAIBackend
    from agentsim.llm.prompts import PromptLibrary

    (tmp_path / "q.j2").write_text("hi")
    b = OpenAIBackend("gpt-4o-mini", api_key="sk-none")  # the real API: must never be reached
    c = compose({"smart": b}, PromptLibrary(tmp_path), rng=random.Random(0), max_retries=0,
                fallback=FakeLLM(lambda t, v: "offline"))
    with pytest.raises(RuntimeError, match="network access in tests"):  # not a fallback
        await c.ask("q", {})
    assert offline == ["'api.openai.com'"]  # seen: had it been swallowed, teardown fails
    offline.clear()
    await c.aclose()


def test_network_guard_lets_loopback_through():
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        with socket.create_connection(server.getsockname(), timeout=1):
            pass
    assert socket.getaddrinfo("localhost", 80)
