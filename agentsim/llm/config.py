"""LLM settings from `--llm`, the environment and an `agentsim.toml` file.

Spec grammar:

    offline                                 the built-in offline mind (the default)
    local                                   SmolLM2-135M-Instruct in this process (the
                                            `local` extra ships it; llama-cpp-python)
    local:PATH.gguf                         any GGUF model file, in this process
    PROVIDER:MODEL                          openai, ollama, vllm, llamacpp, llamacpp-python,
                                            lmstudio
    PROVIDER:MODEL@URL                      the same at another base URL
    compat:MODEL@URL                        any other OpenAI-compatible server
    SPEC?structured=MODE                    how that server is asked for JSON (see STRUCTURED)
    fast=SPEC,smart=SPEC                    a spec per tier; a tier not named uses smart's

    e.g. ollama:qwen2.5:3b    vllm:Qwen/Qwen2.5-7B-Instruct@http://gpu:8000/v1
         fast=ollama:qwen2.5:3b,smart=openai:gpt-4o-mini
         llamacpp-python:smollm2    (python -m llama_cpp.server --model M.gguf, port 8000)
         compat:m@http://box:9000/v1?structured=json_object_schema

`llamacpp:` is llama.cpp's own `llama-server` (port 8080); `llamacpp-python:` is
llama-cpp-python's `python -m llama_cpp.server` (port 8000), which is asked for JSON with
`{"type": "json_object", "schema": ...}` from the start (it answers json_schema with a 500).

`--llm` wins over `AGENTSIM_LLM`, which wins over the config file's `[llm] spec`; with none of
them a run uses the offline mind. Having OPENAI_API_KEY or OPENAI_BASE_URL set does NOT switch
a run to a paid model: name it with `--llm openai:MODEL` (`LLMSettings.notice` says so).
`openai:` needs OPENAI_API_KEY and honours OPENAI_BASE_URL. The local providers send the key
AGENTSIM_LLM_API_KEY if set (e.g. for `vllm serve --api-key`), else a placeholder; they are
never sent OPENAI_API_KEY.

`[llm]` in agentsim.toml: spec, max_in_flight, timeout, max_retries, budget_calls,
budget_tokens, budget_usd, structured (as `?structured=`, for every tier that names none),
prices (`{ "my-model" = [0.5, 1.5] }`, USD per 1M in/out tokens), local (a table for
`--llm local`: n_ctx, threads, gpu_layers), fallback (offline | stop: what answers a call the
model could not; default stop: the offline mind answers only when asked to), give_up_after
(seconds with no successful call while calls are tried: the run stops at its last checkpoint;
default 120, or the timeout if longer; 0: never) and give_up_failures (calls in a row that
failed after all their retries: the run stops; default 20; 0: never).

Local servers (ollama, llamacpp, llamacpp-python, lmstudio) often serve one request at a time,
and a request's timeout includes its wait in their queue: by default they get 2 requests in
flight (llamacpp-python: 1, a single slot) and a 300 s timeout; `--max-in-flight` and
`[llm] max_in_flight`/`timeout` override that.
"""

from __future__ import annotations

import os
import re
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from agentsim.errors import LLMConfigError

TIERS = ("fast", "smart")

PROVIDERS: dict[str, str | None] = {
    "openai": None,  # the SDK's default, or OPENAI_BASE_URL
    "ollama": "http://localhost:11434/v1",
    "vllm": "http://localhost:8000/v1",
    "llamacpp": "http://localhost:8080/v1",  # llama.cpp's llama-server
    "llamacpp-python": "http://localhost:8000/v1",  # llama-cpp-python's llama_cpp.server
    "lmstudio": "http://localhost:1234/v1",
    "compat": None,  # needs @URL
}
# One box serving a few requests at a time (often one: a single slot): few in flight, and a
# timeout that allows for waiting behind the others, by default.
SINGLE_BOX = frozenset({"ollama", "llamacpp", "llamacpp-python", "lmstudio"})
IN_FLIGHT = {"llamacpp-python": 1}  # default requests in flight; other single boxes: 2
SINGLE_BOX_IN_FLIGHT = 2
SINGLE_BOX_TIMEOUT = 300.0
# The JSON mode a provider starts in under `structured = "auto"` (others: json_schema).
START_MODE = {"llamacpp-python": "json_object_schema"}

_KNOWN = ("spec", "max_in_flight", "timeout", "max_retries", "budget_calls", "budget_tokens",
          "budget_usd", "prices", "structured", "give_up_after", "give_up_failures", "local",
          "fallback")
FALLBACKS = ("offline", "stop")  # what answers a call the model could not
LOCAL_OPTIONS = {"n_ctx": 8192, "threads": 0, "gpu_layers": 0}  # 0 threads: all cores
# How answers are asked for as JSON: `auto` tries json_schema (llamacpp-python: starts at
# json_object_schema), then json_object_schema (`{"type": "json_object", "schema": ...}`), then
# json_object, then the prompt alone, stepping down when a server refuses; the others start
# at that mode.
STRUCTURED = ("auto", "json_schema", "json_object_schema", "json_object", "none")


@dataclass(frozen=True)
class TierSettings:
    provider: str
    model: str
    base_url: str | None = None
    api_key: str | None = None
    timeout: float = 60.0
    structured: str | None = None  # from `?structured=MODE` in the spec; None: the run's

    @property
    def label(self) -> str:
        return "offline" if self.provider == "offline" else f"{self.provider}:{self.model}"


@dataclass(frozen=True)
class LLMSettings:
    tiers: dict[str, TierSettings]
    max_in_flight: int = 64
    timeout: float = 60.0
    max_retries: int = 6
    budget_calls: int | None = None
    budget_tokens: int | None = None
    budget_usd: float | None = None
    prices: dict[str, tuple[float, float]] = field(default_factory=dict)
    spec: str = "offline"
    structured: str = "auto"
    give_up_after: float | None = None  # None: 120 s, or the timeout if longer; 0: never
    give_up_failures: int = 20  # 0: never
    local: dict[str, int] = field(default_factory=lambda: dict(LOCAL_OPTIONS))  # --llm local
    # `[llm] fallback`: offline | stop; None: not set (a model stops, the offline mind is its
    # own fallback; see `agentsim.llm.factory.build_llm`)
    fallback: str | None = None
    notice: str | None = None  # something the CLI should say once (e.g. a key being ignored)

    @property
    def offline(self) -> bool:
        return all(t.provider == "offline" for t in self.tiers.values())


def _fail(message: str) -> LLMConfigError:
    return LLMConfigError(message, field="--llm")


def parse_one(spec: str, env: Mapping[str, str]) -> TierSettings:
    """One `PROVIDER:MODEL[@URL]` (or `offline`)."""
    spec = spec.strip()
    if spec in ("", "offline"):
        return TierSettings("offline", "offline-mind-1")
    if spec == "local" or spec.startswith("local:"):  # a GGUF model in this process; the
        # file and llama-cpp-python are looked for when it is loaded (a replay needs neither)
        return TierSettings("local", spec.partition(":")[2].strip() or "smollm2",
                            timeout=SINGLE_BOX_TIMEOUT)
    spec, _, options = spec.partition("?")
    structured = _options(spec, options)
    provider, sep, rest = spec.partition(":")
    if provider not in PROVIDERS:
        raise _fail(f"unknown LLM spec {spec!r}: use offline, or one of "
                    f"{', '.join(p + ':MODEL' for p in PROVIDERS)} (e.g. ollama:llama3.1)")
    model, _, url = rest.partition("@")
    model, url = model.strip(), url.strip()
    if not sep or not model:
        raise _fail(f"LLM spec {spec!r} names no model, e.g. {provider}:MODEL")
    if url and not re.match(r"^https?://[^\s/]+", url):
        raise _fail(f"LLM spec {spec!r}: {url!r} is not an http(s) URL, e.g. "
                    f"{provider}:{model}@http://host:8000/v1")
    if provider == "openai":
        key = env.get("OPENAI_API_KEY")
        if not key:
            raise _fail("OPENAI_API_KEY is not set: set OPENAI_API_KEY, or for a local model "
                        "use --llm ollama:MODEL (or vllm:, llamacpp:, lmstudio:)")
        return TierSettings(provider, model, url or env.get("OPENAI_BASE_URL") or None, key,
                            structured=structured)
    if provider == "compat" and not url:
        raise _fail("compat: needs a URL, e.g. compat:MODEL@http://host:port/v1")
    key = env.get("AGENTSIM_LLM_API_KEY") or ("ollama" if provider == "ollama" else "local")
    timeout = SINGLE_BOX_TIMEOUT if provider in SINGLE_BOX else 60.0
    return TierSettings(provider, model, url or PROVIDERS[provider], key, timeout, structured)


def _options(spec: str, options: str) -> str | None:
    """The `?structured=MODE` at the end of a spec (the only option there is)."""
    if not options:
        return None
    key, eq, value = options.partition("=")
    if key.strip() != "structured" or not eq:
        raise _fail(f"unknown option {options!r} in LLM spec {spec!r}: the one option is "
                    f"?structured=MODE (MODE: {', '.join(STRUCTURED)})")
    value = value.strip()
    if value not in STRUCTURED:
        raise _fail(f"LLM spec {spec!r}: structured={value!r} is none of "
                    f"{', '.join(STRUCTURED)} (the option goes last: MODEL@URL?structured=MODE)")
    return value


def parse_spec(spec: str, env: Mapping[str, str] | None = None) -> dict[str, TierSettings]:
    """A spec -> settings for every tier."""
    env = os.environ if env is None else env
    parts = [p for p in spec.split(",") if p.strip()]
    tiered = [bool(re.match(r"^\s*\w+\s*=", p)) for p in parts]
    if not any(tiered):
        return dict.fromkeys(TIERS, parse_one(spec, env))
    if not all(tiered):
        raise _fail(f"LLM spec {spec!r} mixes tiers and plain specs: name each, e.g. "
                    "fast=ollama:qwen2.5:3b,smart=openai:gpt-4o-mini")
    named: dict[str, TierSettings] = {}
    for p in parts:
        tier, _, one = p.partition("=")
        tier = tier.strip()
        if tier not in TIERS:
            raise _fail(f"unknown tier {tier!r} in {spec!r} (use {' or '.join(TIERS)})")
        named[tier] = parse_one(one, env)
    base = named.get("smart") or next(iter(named.values()))
    return {t: named.get(t, base) for t in TIERS}


def _read_config(path: Path) -> dict[str, Any]:
    try:
        conf = tomllib.loads(path.read_text(encoding="utf-8")).get("llm", {})
    except FileNotFoundError:
        raise LLMConfigError("no such config file", path=path) from None
    except tomllib.TOMLDecodeError as e:
        raise LLMConfigError(f"bad TOML: {e}", path=path) from None
    if not isinstance(conf, dict):
        raise LLMConfigError("must be a table", path=path, field="llm")
    for k in conf:
        if k not in _KNOWN:
            raise LLMConfigError(f"unknown setting (known: {', '.join(_KNOWN)})", path=path,
                                 field=f"llm.{k}")
    return conf


def _number(conf: dict[str, Any], key: str, kind: type, path: Path | None,
            minimum: float = 1e-9) -> Any:
    value = conf.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value < minimum \
            or (kind is int and not isinstance(value, int)):
        what = "integer" if kind is int else "number"
        need = f"a positive {what}" if minimum > 0 else f"an {what} >= 0"
        raise LLMConfigError(f"must be {need}", path=path, field=f"llm.{key}")
    return kind(value)


def _prices(conf: dict[str, Any], path: Path | None) -> dict[str, tuple[float, float]]:
    out = {}
    for model, p in (conf.get("prices") or {}).items():
        if isinstance(p, dict):
            p = [p.get("input"), p.get("output")]
        if not (isinstance(p, list) and len(p) == 2
                and all(isinstance(x, (int, float)) and x >= 0 for x in p)):
            raise LLMConfigError("a price is [input, output] in USD per 1M tokens",
                                 path=path, field=f"llm.prices.{model}")
        out[model] = (float(p[0]), float(p[1]))
    return out


def load_settings(spec: str | None, config_path: str | Path | None = None,
                  env: Mapping[str, str] | None = None) -> LLMSettings:
    """The settings of a run: `spec` (from --llm), else AGENTSIM_LLM, else the config file's
    spec, else offline. Raises LLMConfigError with one line."""
    env = os.environ if env is None else env
    path = Path(config_path) if config_path is not None else None
    conf = _read_config(path) if path is not None else {}
    if not isinstance(conf.get("spec", ""), str):
        raise LLMConfigError("must be a string, e.g. \"ollama:llama3.1\"", path=path,
                             field="llm.spec")
    chosen = spec or env.get("AGENTSIM_LLM") or conf.get("spec") or "offline"
    tiers = parse_spec(chosen, env)
    notice = None
    if chosen == "offline" and (env.get("OPENAI_API_KEY") or env.get("OPENAI_BASE_URL")):
        notice = ("OPENAI_API_KEY/OPENAI_BASE_URL is set, but no LLM was named: using the "
                  "offline mind (name one with --llm openai:MODEL)")
    timeout = _number(conf, "timeout", float, path)
    if timeout is not None:
        tiers = {t: replace(s, timeout=timeout) for t, s in tiers.items()}
    boxes = [s.provider for s in tiers.values() if s.provider in SINGLE_BOX]
    in_flight = min((IN_FLIGHT.get(p, SINGLE_BOX_IN_FLIGHT) for p in boxes), default=64)
    structured = conf.get("structured", "auto")
    if structured not in STRUCTURED:
        raise LLMConfigError(f"must be one of {', '.join(STRUCTURED)}", path=path,
                             field="llm.structured")
    return LLMSettings(
        tiers=tiers,
        max_in_flight=_number(conf, "max_in_flight", int, path) or in_flight,
        timeout=timeout or max(s.timeout for s in tiers.values()),
        max_retries=_or(_number(conf, "max_retries", int, path, minimum=0), 6),
        budget_calls=_number(conf, "budget_calls", int, path),
        budget_tokens=_number(conf, "budget_tokens", int, path),
        budget_usd=_number(conf, "budget_usd", float, path),
        prices=_prices(conf, path),
        spec=chosen,
        structured=structured,
        give_up_after=_number(conf, "give_up_after", float, path, minimum=0),
        give_up_failures=_or(_number(conf, "give_up_failures", int, path, minimum=0), 20),
        local=_local(conf, path),
        fallback=_fallback(conf, path),
        notice=notice,
    )


def _fallback(conf: dict[str, Any], path: Path | None) -> str | None:
    value = conf.get("fallback")
    if value is not None and value not in FALLBACKS:
        raise LLMConfigError(f"must be one of {', '.join(FALLBACKS)}", path=path,
                             field="llm.fallback")
    return value


def _local(conf: dict[str, Any], path: Path | None) -> dict[str, int]:
    table = conf.get("local") or {}
    if not isinstance(table, dict):
        raise LLMConfigError("must be a table (n_ctx, threads, gpu_layers)", path=path,
                             field="llm.local")
    out = dict(LOCAL_OPTIONS)
    for key, value in table.items():
        if key not in LOCAL_OPTIONS:
            raise LLMConfigError(f"unknown setting (known: {', '.join(LOCAL_OPTIONS)})",
                                 path=path, field=f"llm.local.{key}")
        if isinstance(value, bool) or not isinstance(value, int) or value < 0 \
                or (key == "n_ctx" and value < 256):
            raise LLMConfigError("must be a whole number (n_ctx at least 256)", path=path,
                                 field=f"llm.local.{key}")
        out[key] = value
    return out


def _or(value: Any, default: Any) -> Any:
    return default if value is None else value


async def check_reachable(settings: LLMSettings | TierSettings, timeout: float = 3.0,
                          notify: Callable[[str], None] | None = None) -> None:
    """A quick GET /models on each configured server; raises LLMConfigError, e.g.
    "cannot reach http://localhost:11434/v1 (is Ollama running? `ollama serve`, ...)".
    A server that takes the connection but is too busy to answer in `timeout` (a single-slot
    server generating) passes, and `notify` hears so in one line."""
    tiers = settings.tiers.values() if isinstance(settings, LLMSettings) else [settings]
    seen: set[tuple[str | None, str | None]] = set()
    for tier in tiers:
        if tier.provider in ("offline", "local") or (tier.base_url, tier.api_key) in seen:
            continue
        seen.add((tier.base_url, tier.api_key))
        # imported only for a server to probe: an offline run never pays for `import openai`
        from agentsim.llm.openai_backend import check_reachable as probe

        problem = await probe(tier.base_url, tier.api_key, tier.provider, timeout, notify)
        if problem:
            raise LLMConfigError(problem, field=f"--llm {tier.label}")
