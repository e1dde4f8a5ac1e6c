"""Local OpenAI-compatible servers: the switch to `{"type": "json_object", "schema": ...}` for
servers that refuse json_schema (llama-cpp-python's 500), the llamacpp-python provider, the
`?structured=` spec option, in-flight defaults, and a busy server at start-up. All against the
fake server on 127.0.0.1 (tests/test_real_server.py runs a real llama-cpp-python server)."""

from __future__ import annotations

import asyncio
import json
import logging
import socket

import pytest
from pydantic import BaseModel, Field

from agentsim.errors import LLMConfigError
from agentsim.llm.config import check_reachable, load_settings, parse_spec
from agentsim.llm.factory import build_llm
from agentsim.llm.openai_backend import MODES, OpenAIBackend
from agentsim.testing import FakeLLM, FakeOpenAIServer, test_client


class Importance(BaseModel):
    score: int = Field(ge=1, le=10)
    reason: str


V = {"who": "x", "what": "y"}


def backend(server, **kw):
    return OpenAIBackend("fake-model", base_url=server.base_url, name="compat", **kw)


def switch_lines(caplog):
    return [r for r in caplog.records if "refused response_format" in r.getMessage()]


def test_modes_step_down_through_the_schema_enforcing_json_object():
    assert MODES == ("json_schema", "json_object_schema", "json_object", "none")


async def test_llamacpp_python_500_switches_to_json_object_with_schema_once(prompts, caplog):
    caplog.set_level(logging.WARNING, logger="agentsim.llm")
    with FakeOpenAIServer(llamacpp_python=True) as server:
        b = backend(server)
        c = test_client(b, prompts)
        outs = await asyncio.gather(*(c.ask("echo", {"who": "x", "what": str(i)},
                                            schema=Importance) for i in range(6)))
        assert all(isinstance(o, Importance) for o in outs)
        assert b.mode == "json_object_schema"
        rejected = server.by_status["500"]
        assert 1 <= rejected <= 6  # only the requests sent before the switch
        for _ in range(3):
            assert isinstance(await c.ask("echo", V, schema=Importance), Importance)
        assert server.by_status["500"] == rejected  # remembered: later requests use the form
        assert server.formats[-3:] == [{"type": "json_object",
                                        "schema": Importance.model_json_schema()}] * 3
        t = c.usage.total
        assert (t.fallbacks, t.errors, t.retries) == (0, 0, 0)  # answered by the model
        await c.aclose()
    [line] = switch_lines(caplog)  # said once, in one line
    msg = line.getMessage()
    assert "\n" not in msg and "500" in msg and '{"type": "json_object", "schema": ...}' in msg
    assert b.switches == [msg]


async def test_a_plain_text_request_is_untouched(prompts):
    with FakeOpenAIServer(llamacpp_python=True) as server:
        b = backend(server)
        c = test_client(b, prompts)
        assert await c.ask("echo", V) == "ok"
        assert server.formats == [None] and b.mode == "json_schema"
        await c.aclose()


async def test_the_llamacpp_python_provider_starts_in_the_form_its_server_enforces(prompts,
                                                                                   caplog):
    caplog.set_level(logging.WARNING, logger="agentsim.llm")
    with FakeOpenAIServer(llamacpp_python=True) as server:
        llm = build_llm(f"llamacpp-python:smollm2@{server.base_url}")
        assert llm.backends["fast"] is llm.backends["smart"]  # one backend, one switch
        assert llm.max_in_flight == 1  # a single slot
        b = llm.backends["smart"]
        assert b.mode == "json_object_schema"
        c = test_client(b, prompts)
        assert isinstance(await c.ask("echo", V, schema=Importance), Importance)
        assert server.by_status["500"] == 0 and not switch_lines(caplog)
        await llm.aclose()


class Bare500(FakeOpenAIServer):
    """A 500 with no word about the format for json_schema requests (or, with `always`, for
    every request); other requests are answered."""

    def __init__(self, always=False, **kw):
        super().__init__(**kw)
        self.always = always

    async def _complete(self, req):
        fmt = req.get("response_format") or {}
        if self.always or fmt.get("type") == "json_schema":
            self.formats.append(req.get("response_format"))
            return 500, {}, json.dumps({"error": {"message": "internal error"}})
        return await super()._complete(req)


async def test_a_bare_500_that_a_plain_request_does_not_get_switches_once(prompts, caplog):
    caplog.set_level(logging.WARNING, logger="agentsim.llm")
    with Bare500() as server:
        b = backend(server)
        c = test_client(b, prompts)
        for _ in range(3):
            assert isinstance(await c.ask("echo", V, schema=Importance), Importance)
        assert b.mode == "json_object_schema"
        assert server.by_status["500"] == 1
        assert server.formats[1] is None  # the check: the same request without a format
        assert server.formats[-1]["type"] == "json_object" and server.formats[-1]["schema"]
        assert c.usage.total.fallbacks == 0
        await c.aclose()
    assert len(switch_lines(caplog)) == 1


async def test_a_server_error_is_no_reason_to_switch(prompts, caplog):
    caplog.set_level(logging.WARNING, logger="agentsim.llm")
    with Bare500(always=True) as server:
        b = backend(server)
        fb = FakeLLM(lambda t, v: {"score": 1, "reason": "fallback"})
        c = test_client(b, prompts, max_retries=2, give_up_failures=0, fallback=fb)
        out = await c.ask("echo", V, schema=Importance)
        assert out.reason == "fallback" and c.usage.total.fallbacks == 1  # counted as such
        assert b.mode == "json_schema" and not switch_lines(caplog)
        checks = server.formats.count(None)
        await c.ask("echo", V, schema=Importance)
        assert server.formats.count(None) == checks == 1  # checked once, not every time
        await c.aclose()


async def test_json_object_schema_can_step_down_further(prompts):
    with FakeOpenAIServer(reject_json_schema=True) as server:
        b = backend(server, structured="json_object_schema")
        c = test_client(b, prompts)
        assert isinstance(await c.ask("echo", V, schema=Importance), Importance)
        assert server.formats == [{"type": "json_object",
                                   "schema": Importance.model_json_schema()}]
        await c.aclose()


# -- settings -----------------------------------------------------------------------------
def test_providers_and_their_ports():
    assert parse_spec("llamacpp:m", {})["smart"].base_url == "http://localhost:8080/v1"
    s = parse_spec("llamacpp-python:m", {})["smart"]
    assert (s.provider, s.base_url, s.structured) == ("llamacpp-python", "http://localhost:8000/v1",
                                                      None)


def test_structured_from_the_spec():
    s = parse_spec("llamacpp:m@http://127.0.0.1:9/v1?structured=json_object_schema", {})
    assert s["fast"].structured == "json_object_schema"
    assert s["fast"].base_url == "http://127.0.0.1:9/v1"
    tiers = parse_spec("fast=ollama:a?structured=none,smart=vllm:b", {})
    assert (tiers["fast"].structured, tiers["smart"].structured) == ("none", None)
    llm = build_llm("fast=ollama:a?structured=json_object,smart=llamacpp-python:b")
    assert (llm.backends["fast"].mode, llm.backends["smart"].mode) == \
        ("json_object", "json_object_schema")
    assert build_llm("llamacpp-python:b?structured=json_schema").backends["smart"].mode == \
        "json_schema"


def test_the_spec_beats_the_config_file(tmp_path):
    conf = tmp_path / "agentsim.toml"
    conf.write_text('[llm]\nstructured = "json_object"\n')
    llm = build_llm("fast=vllm:a?structured=none,smart=vllm:b", config_path=conf)
    assert (llm.backends["fast"].mode, llm.backends["smart"].mode) == ("none", "json_object")


@pytest.mark.parametrize(("spec", "match"), [
    ("llamacpp:m?structured=xml", "structured='xml' is none of auto, json_schema"),
    ("llamacpp:m?structured=none@http://x:1/v1", "the option goes last"),
    ("llamacpp:m?temp=1", "unknown option 'temp=1'"),
])
def test_bad_spec_options(spec, match):
    with pytest.raises(LLMConfigError, match=match):
        parse_spec(spec, {})


def test_local_servers_get_few_requests_in_flight_unless_told():
    assert build_llm("llamacpp-python:m").max_in_flight == 1
    assert build_llm("llamacpp:m").max_in_flight == 2
    assert build_llm("lmstudio:m").max_in_flight == 2
    assert build_llm("llamacpp-python:m", max_in_flight=4).max_in_flight == 4
    assert build_llm("vllm:m").max_in_flight == 64
    assert build_llm("llamacpp-python:m").timeout == 300


# -- start-up check -------------------------------------------------------------------------
async def test_a_busy_server_passes_the_start_up_check_with_a_note():
    with socket.socket() as listener:  # takes connections (the kernel's backlog), never answers
        listener.bind(("127.0.0.1", 0))
        listener.listen(8)
        url = f"http://127.0.0.1:{listener.getsockname()[1]}/v1"
        notes = []
        await check_reachable(load_settings(f"llamacpp-python:m@{url}", env={}), timeout=0.3,
                              notify=notes.append)
    [note] = notes
    assert "busy" in note and url in note and "\n" not in note


async def test_a_closed_port_still_fails_the_start_up_check():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with pytest.raises(LLMConfigError, match=r"python -m llama_cpp\.server"):
        await check_reachable(load_settings(f"llamacpp-python:m@http://127.0.0.1:{port}/v1",
                                            env={}), timeout=1)
