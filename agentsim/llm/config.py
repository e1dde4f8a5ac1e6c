"""LLM settings from `--llm`, the environment and an `agentsim.toml` file.

Spec grammar:

    offline                                 the built-in offline mind (the default)
    PROVIDER:MODEL                          openai, ollama, vllm, llamacpp, lmstudio
    PROVIDER:MODEL@URL                      the same at another base URL
    compat:MODEL@URL                        any other OpenAI-compatible server
    fast=SPEC,smart=SPEC                    a spec per tier; a tier not named uses smart's

`--llm` wins over `AGENTSIM_LLM`, which wins over the config file's `[llm] spec`. Having
OPENAI_API_KEY set does not by itself switch a run to a paid model: name it with --llm.
"""

from __future__ import annotations

import os
import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from agentsim.errors import LLMConfigError

TIERS = ("fast", "smart")

PROVIDERS: dict[str, str | None] = {
    "openai": None,  # the SDK's default, or OPENAI_BASE_URL
    "ollama": "http://localhost:11434/v1",
    "vllm": "http://localhost:8000/v1",
    "llamacpp": "http://localhost:8080/v1",
    "lmstudio": "http://localhost:1234/v1",
    "compat": None,
}

HINTS = {
    "ollama": "is Ollama running? `ollama serve`, then `ollama pull MODEL`",
    "vllm": "is vLLM running? `vllm serve MODEL`",
    "llamacpp": "is llama.cpp's server running? `llama-server -m model.gguf`",
    "lmstudio": "is LM Studio's local server started?",
}


@dataclass(frozen=True)
class TierSettings:
    provider: str
    model: str
    base_url: str | None = None
    api_key: str | None = None

    @property
    def label(self) -> str:
        return "offline" if self.provider == "offline" else f"{self.provider}:{self.model}"


@dataclass(frozen=True)
class LLMSettings:
    tiers: dict[str, TierSettings]
    max_in_flight: int = 128
    timeout: float = 60.0
    max_retries: int = 6
    budget_calls: int | None = None
    budget_tokens: int | None = None
    budget_usd: float | None = None
    prices: dict[str, tuple[float, float]] = field(default_factory=dict)


def parse_one(spec: str, env: dict[str, str]) -> TierSettings:
    spec = spec.strip()
    if spec in ("", "offline"):
        return TierSettings("offline", "offline-mind-1")
    provider, sep, rest = spec.partition(":")
    if not sep or provider not in PROVIDERS:
        raise LLMConfigError(
            f"unknown LLM spec {spec!r}: use offline, or one of "
            f"{', '.join(p + ':MODEL' for p in PROVIDERS)} (e.g. ollama:llama3.1)", field="--llm")
    model, _, url = rest.partition("@")
    if not model:
        raise LLMConfigError(f"LLM spec {spec!r} names no model, e.g. {provider}:MODEL",
                             field="--llm")
    base = url or PROVIDERS[provider]
    key = env.get("OPENAI_API_KEY")
    if provider == "openai":
        base = url or env.get("OPENAI_BASE_URL") or None
        if not key:
            raise LLMConfigError(
                "OPENAI_API_KEY is not set: set it, or for a local model use "
                "--llm ollama:MODEL (or vllm:, llamacpp:, lmstudio:)", field="--llm")
    elif provider == "compat" and not url:
        raise LLMConfigError("compat: needs a URL, e.g. compat:MODEL@http://host:port/v1",
                             field="--llm")
    return TierSettings(provider, model, base, key if provider == "openai" else key or "local")


def parse_spec(spec: str, env: dict[str, str] | None = None) -> dict[str, TierSettings]:
    env = dict(os.environ) if env is None else env
    parts = [p for p in spec.split(",") if p.strip()]
    if parts and all(re.match(r"^\s*\w+\s*=", p) for p in parts):
        named: dict[str, TierSettings] = {}
        for p in parts:
            tier, _, one = p.partition("=")
            tier = tier.strip()
            if tier not in TIERS:
                raise LLMConfigError(f"unknown tier {tier!r} (use {' or '.join(TIERS)})",
                                     field="--llm")
            named[tier] = parse_one(one, env)
        base = named.get("smart") or named[next(iter(named))]
        return {t: named.get(t, base) for t in TIERS}
    one = parse_one(spec, env)
    return dict.fromkeys(TIERS, one)


def load_settings(spec: str | None, config_path: str | Path | None = None,
                  env: dict[str, str] | None = None) -> LLMSettings:
    env = dict(os.environ) if env is None else env
    conf: dict[str, Any] = {}
    if config_path is not None:
        path = Path(config_path)
        try:
            conf = tomllib.loads(path.read_text()).get("llm", {})
        except FileNotFoundError:
            raise LLMConfigError("no such config file", path=path) from None
        except tomllib.TOMLDecodeError as e:
            raise LLMConfigError(f"bad TOML: {e}", path=path) from None
        known = {"spec", "max_in_flight", "timeout", "max_retries", "budget_calls",
                 "budget_tokens", "budget_usd", "prices"}
        for k in conf:
            if k not in known:
                raise LLMConfigError("unknown setting", path=path, field=f"llm.{k}")
    chosen = spec or env.get("AGENTSIM_LLM") or conf.get("spec") or "offline"
    prices = {m: (float(p[0]), float(p[1])) for m, p in conf.get("prices", {}).items()}
    return LLMSettings(
        tiers=parse_spec(chosen, env),
        max_in_flight=int(conf.get("max_in_flight", 128)),
        timeout=float(conf.get("timeout", 60.0)),
        max_retries=int(conf.get("max_retries", 6)),
        budget_calls=conf.get("budget_calls"),
        budget_tokens=conf.get("budget_tokens"),
        budget_usd=conf.get("budget_usd"),
        prices=prices,
    )
