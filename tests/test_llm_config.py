"""LLM specs, settings precedence, the config file, and the reachability check."""

from __future__ import annotations

import socket

import pytest

from agentsim.errors import LLMConfigError
from agentsim.llm.config import TierSettings, check_reachable, load_settings, parse_spec
from agentsim.testing import FakeOpenAIServer

KEY = {"OPENAI_API_KEY": "sk-test"}


def test_single_specs():
    t = parse_spec("ollama:qwen2.5:3b", {})
    assert t["fast"] == t["smart"]
    assert t["smart"] == TierSettings("ollama", "qwen2.5:3b", "http://localhost:11434/v1",
                                      "ollama", 300.0)
    assert parse_spec("vllm:m", {})["smart"].base_url == "http://localhost:8000/v1"
    assert parse_spec("llamacpp:m", {})["smart"].base_url == "http://localhost:8080/v1"
    assert parse_spec("lmstudio:m", {})["smart"].base_url == "http://localhost:1234/v1"
    assert parse_spec("offline", {})["smart"].provider == "offline"
    o = parse_spec("openai:gpt-4o-mini", KEY)["smart"]
    assert (o.provider, o.model, o.base_url, o.api_key) == ("openai", "gpt-4o-mini", None,
                                                            "sk-test")


def test_url_overrides():
    t = parse_spec("vllm:Qwen/Qwen2.5-7B-Instruct@http://gpu:8000/v1", {})["smart"]
    assert (t.model, t.base_url) == ("Qwen/Qwen2.5-7B-Instruct", "http://gpu:8000/v1")
    t = parse_spec("openai:gpt-4o-mini", {**KEY, "OPENAI_BASE_URL": "http://proxy/v1"})
    assert t["smart"].base_url == "http://proxy/v1"
    t = parse_spec("openai:gpt-4o-mini@http://other/v1", {**KEY, "OPENAI_BASE_URL": "http://p"})
    assert t["smart"].base_url == "http://other/v1"
    assert parse_spec("compat:m@https://h/v1", {})["smart"].base_url == "https://h/v1"


def test_tiered_specs():
    t = parse_spec("fast=ollama:qwen2.5:3b, smart=openai:gpt-4o-mini", KEY)
    assert (t["fast"].provider, t["fast"].model) == ("ollama", "qwen2.5:3b")
    assert (t["smart"].provider, t["smart"].model) == ("openai", "gpt-4o-mini")
    assert parse_spec("smart=vllm:big", {})["fast"].model == "big"  # unnamed: smart's
    assert parse_spec("fast=vllm:small", {})["smart"].model == "small"  # the one named


def test_local_servers_never_get_the_openai_key():
    env = {**KEY, "AGENTSIM_LLM_API_KEY": "local-secret"}
    assert parse_spec("vllm:m", KEY)["smart"].api_key == "local"
    assert parse_spec("vllm:m", env)["smart"].api_key == "local-secret"


@pytest.mark.parametrize(("spec", "match"), [
    ("nosuch:model", "unknown LLM spec 'nosuch:model'"),
    ("ollama", "names no model"),
    ("ollama:", "names no model"),
    ("vllm:m@gpu:8000", "not an http"),
    ("compat:m", "compat: needs a URL"),
    ("fast=ollama:a,vllm:b", "mixes tiers"),
    ("medium=ollama:a", "unknown tier 'medium'"),
])
def test_bad_specs(spec, match):
    with pytest.raises(LLMConfigError, match=match) as e:
        parse_spec(spec, KEY)
    assert "\n" not in str(e.value) and str(e.value).startswith("--llm: ")


def test_missing_key_says_what_to_set():
    with pytest.raises(LLMConfigError) as e:
        parse_spec("openai:gpt-4o-mini", {})
    assert "set OPENAI_API_KEY, or for a local model use --llm ollama:MODEL" in str(e.value)


def test_settings_precedence(tmp_path):
    conf = tmp_path / "agentsim.toml"
    conf.write_text('[llm]\nspec = "vllm:a"\nmax_in_flight = 7\nbudget_usd = 1.5\n'
                    'timeout = 30\nmax_retries = 0\nbudget_calls = 100\nbudget_tokens = 5000\n'
                    'prices = { "a" = [0.5, 1.5], "b" = { input = 1, output = 2 } }\n')
    s = load_settings(None, conf, env={})
    assert s.tiers["smart"].model == "a" and s.max_in_flight == 7 and s.budget_usd == 1.5
    assert s.timeout == 30 and s.tiers["smart"].timeout == 30 and s.max_retries == 0
    assert (s.budget_calls, s.budget_tokens) == (100, 5000)
    assert s.prices == {"a": (0.5, 1.5), "b": (1.0, 2.0)}
    assert load_settings(None, conf, env={"AGENTSIM_LLM": "vllm:b"}).tiers["smart"].model == "b"
    assert load_settings("vllm:c", conf, env={"AGENTSIM_LLM": "vllm:b"}).spec == "vllm:c"


def test_an_openai_key_alone_does_not_switch_to_a_paid_model():
    for env in ({"OPENAI_API_KEY": "k"}, {"OPENAI_BASE_URL": "http://x/v1"}):
        s = load_settings(None, None, env=env)
        assert s.offline and s.spec == "offline" and "--llm openai:MODEL" in s.notice
    assert load_settings(None, None, env={}).notice is None


def test_defaults_suit_the_server():
    assert load_settings("ollama:m", env={}).max_in_flight == 2  # one box, a few at a time
    assert load_settings("llamacpp-python:m", env={}).max_in_flight == 1  # a single slot
    assert load_settings("fast=ollama:a,smart=vllm:b", env={}).max_in_flight == 2
    assert load_settings("ollama:m", env={}).timeout == 300  # it counts the queue
    assert load_settings("vllm:m", env={}).max_in_flight == 64
    assert load_settings("vllm:m", env={}).timeout == 60
    assert load_settings(None, env={}).max_retries == 6


@pytest.mark.parametrize(("text", "match"), [
    ("[llm]\nspecc = 1\n", r"llm\.specc: unknown setting"),
    ("[llm]\nmax_in_flight = \"many\"\n", r"llm\.max_in_flight: must be a positive integer"),
    ("[llm]\ntimeout = -1\n", r"llm\.timeout: must be a positive number"),
    ("[llm]\nmax_retries = -1\n", r"llm\.max_retries: must be an integer >= 0"),
    ("[llm]\nprices = { m = [1] }\n", r"llm\.prices\.m"),
    ("[llm]\nspec = 3\n", r"llm\.spec: must be a string"),
    ("[llm\n", "bad TOML"),
    ("[llm]\nstructured = \"xml\"\n", r"llm\.structured: must be one of auto, json_schema"),
])
def test_config_file_errors_name_the_file_and_field(tmp_path, text, match):
    conf = tmp_path / "agentsim.toml"
    conf.write_text(text)
    with pytest.raises(LLMConfigError, match=match) as e:
        load_settings(None, conf, env={})
    assert str(conf) in str(e.value)


def test_structured_output_can_be_pinned_for_a_server(tmp_path):
    from agentsim.llm.factory import build_llm

    conf = tmp_path / "agentsim.toml"
    conf.write_text('[llm]\nspec = "vllm:m@http://127.0.0.1:9/v1"\nstructured = "json_object"\n')
    assert load_settings(None, conf, env={}).structured == "json_object"
    assert load_settings(None, None, env={}).structured == "auto"
    llm = build_llm(None, config_path=conf)
    assert {b.mode for b in llm.backends.values()} == {"json_object"}


def test_missing_config_file(tmp_path):
    with pytest.raises(LLMConfigError, match="no such config file"):
        load_settings(None, tmp_path / "nope.toml", env={})


async def test_check_reachable():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # nothing listens there once closed
    url = f"http://127.0.0.1:{port}/v1"
    settings = load_settings(f"ollama:qwen2.5:3b@{url}", env={})
    with pytest.raises(LLMConfigError) as e:
        await check_reachable(settings, timeout=2)
    assert f"cannot reach {url} (is Ollama running? `ollama serve`" in str(e.value)
    with FakeOpenAIServer() as server:
        await check_reachable(load_settings(f"vllm:m@{server.base_url}", env={}))
        await check_reachable(load_settings("offline", env={}))


def test_build_llm_from_a_spec():
    from agentsim.llm.factory import build_llm

    llm = build_llm("fast=ollama:small,smart=vllm:big@http://127.0.0.1:9/v1")
    d = llm.describe()
    assert d["tiers"]["fast"] == {"backend": "ollama", "model": "small"}
    assert d["tiers"]["smart"] == {"backend": "vllm", "model": "big"}
    assert d["max_in_flight"] == 2 and llm.backends["fast"].client.timeout == 300


def test_give_up_rules_from_the_config_file_the_flags_and_the_defaults(tmp_path):
    from agentsim.llm.factory import build_llm

    assert (build_llm("vllm:m").give_up_after, build_llm("vllm:m").give_up_failures) == (120, 20)
    assert build_llm("ollama:m").give_up_after == 300  # never before one call could time out
    conf = tmp_path / "agentsim.toml"
    conf.write_text('[llm]\ngive_up_after = 30\ngive_up_failures = 0\n')
    s = load_settings("vllm:m", conf, env={})
    assert (s.give_up_after, s.give_up_failures) == (30, 0)
    llm = build_llm("vllm:m", config_path=conf, give_up=(None, 5))
    assert (llm.give_up_after, llm.give_up_failures) == (30, 5)  # a flag wins over the file
    conf.write_text('[llm]\ngive_up_after = -1\n')
    with pytest.raises(LLMConfigError, match=r"llm\.give_up_after"):
        load_settings("vllm:m", conf, env={})
