"""Build the LLM a run uses: `compose` stacks the wrappers (`agentsim.llm.wrappers`) around
the backends in the one order they go in; `build_llm` makes the backends from a spec, a config
file and the run's record/replay files; `client_for` is one backend for every tier.

Provider packages (openai) are imported here only when a spec names a provider, so the
offline path never loads them.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Awaitable, Callable, Mapping
from pathlib import Path
from typing import Any

from agentsim.errors import LLMConfigError
from agentsim.llm.accounting import Budget, Usage
from agentsim.llm.base import Answerer, Backend
from agentsim.llm.client import FALLBACK_POLICIES, LLMClient
from agentsim.llm.offline import OfflineMind
from agentsim.llm.prompts import PromptLibrary
from agentsim.llm.record import Recorder, ReplaySource, ResponseCache
from agentsim.llm.wrappers import (
    Bounded,
    Budgeted,
    Cache,
    Fallback,
    Gate,
    InFlight,
    Metered,
    Origins,
    Recording,
    Replay,
    Retry,
    Stop,
    Tracked,
    Validate,
    Watchdog,
    Watched,
)


def compose(
    backends: Mapping[str, Backend],
    prompts: PromptLibrary,
    *,
    rng: random.Random,
    max_in_flight: int = 64,
    timeout: float = 60.0,
    max_retries: int = 6,
    backoff_base: float = 0.5,
    backoff_max: float = 30.0,
    recorder: Recorder | None = None,
    replay: ReplaySource | None = None,
    cache: ResponseCache | None = None,
    budget: Budget | None = None,
    fallback: Backend | None = None,
    fallback_policy: str | None = None,
    prices: dict[str, tuple[float, float]] | None = None,
    seed: int = 0,
    sleep: Callable[[float], Awaitable[Any]] = asyncio.sleep,
    give_up_after: float | None = None,
    give_up_failures: int | None = 20,
) -> LLMClient:
    """The client over `backends` (a Backend per tier, "smart" required), wrapped in the order
    `agentsim.llm.wrappers` shows. `rng`: the retry jitter; `seed`: the prompts' seed.

    `fallback_policy`: `offline` (the `fallback` backend, the offline mind, answers a call the
    model could not), `stop` (such a call stops the run: LLMUnavailable), or None (`offline`
    when a `fallback` is given, else the error reaches the caller as it is).
    `give_up_after`: seconds without a successful call (while calls are tried) after which
    the server counts as gone; None: 120, or `timeout` if that is longer (a slow server's
    single answer must not count as an outage); 0 never gives up on time.
    `give_up_failures`: calls in a row answered by the fallback after all their retries (a
    dead server); 0 or None: never."""
    if "smart" not in backends:
        raise ValueError("backends need at least a 'smart' tier")
    if fallback_policy is not None and fallback_policy not in FALLBACK_POLICIES:
        raise ValueError(f"fallback_policy must be one of {', '.join(FALLBACK_POLICIES)}")
    if fallback_policy == "offline" and fallback is None:
        raise ValueError("fallback_policy 'offline' needs a fallback backend (the offline mind)")
    policy = fallback_policy or ("offline" if fallback is not None else None)
    usage, budget = Usage(), budget or Budget()
    in_flight = InFlight(max_in_flight)
    watchdog = Watchdog([f"{b.name}:{b.model}" for b in backends.values()],
                        max(120.0, timeout) if give_up_after is None else give_up_after,
                        give_up_failures or 0)

    def calls(backend: Backend) -> Backend:
        """One backend's stack, from the provider out."""
        b: Backend = Watched(Metered(backend, usage, prices), watchdog, timeout)
        b = Bounded(b, in_flight)
        limit = getattr(backend, "concurrency", None)  # a backend's own limit, if it has one
        if limit:
            b = Gate(b, limit)
        b = Budgeted(b, budget, usage)
        b = Retry(b, usage, rng=rng, max_retries=max_retries, backoff_base=backoff_base,
                  backoff_max=backoff_max, sleep=sleep, check=watchdog.check)
        return Tracked(b, watchdog)

    answerer: Answerer
    if replay is not None:
        answerer = Replay(replay)
    else:
        shared = {id(b): calls(b) for b in backends.values()}  # one stack per backend
        answerer = Validate({tier: shared[id(b)] for tier, b in backends.items()}, usage)
        if policy == "stop":
            answerer = Stop(answerer, watchdog)
        elif policy == "offline" and fallback is not None:
            answerer = Fallback(answerer, fallback, usage, watchdog)
        if cache is not None:
            answerer = Cache(answerer, cache)
        if recorder is not None:
            answerer = Recording(answerer, recorder)
    answerer = Origins(answerer, usage)
    return LLMClient(backends, prompts, answerer, usage=usage, budget=budget,
                     in_flight=in_flight, watchdog=watchdog, timeout=timeout, seed=seed,
                     fallback=policy, replaying=replay is not None,
                     stores=[s for s in (recorder, cache) if s is not None])


def client_for(backend: Backend, **kwargs: Any) -> LLMClient:
    """An LLMClient over one backend for every tier (tests, scripts); `kwargs` as `compose`."""
    kwargs.setdefault("rng", random.Random(0))
    return compose({"fast": backend, "smart": backend}, PromptLibrary(), **kwargs)


def build_llm(
    spec: str | None,
    *,
    config_path: str | Path | None = None,
    record_path: Path | None = None,
    replay_path: Path | None = None,
    max_in_flight: int | None = None,
    budget: tuple[int | None, int | None, float | None] = (None, None, None),
    give_up: tuple[float | None, int | None] = (None, None),
    rng: random.Random | None = None,
    check_reachable: bool = False,
    cache_path: str | Path | None = None,
    seed: int = 0,
    notify: Callable[[str], None] | None = None,
    fallback: str | None = None,
) -> LLMClient:
    """`fallback`: what answers a call the model could not, `offline` or `stop` (None: the
    config file's `[llm] fallback`, else `stop` for a model: a run never mixes in the offline
    mind's answers unless asked to). A run of the offline mind has it as its mind, not as a
    fallback: its policy stays `offline`. `rng`: the retry jitter; `seed`: the prompts'."""
    from agentsim.llm.config import _or, load_settings
    from agentsim.llm.prompt_check import check_prompts

    prompts = PromptLibrary()
    check_prompts(prompts)  # a broken template: one line naming it now, not mid-run
    settings = load_settings(spec, config_path)
    policy = fallback or settings.fallback or ("offline" if settings.offline else "stop")
    if policy not in FALLBACK_POLICIES:
        raise LLMConfigError(f"unknown fallback {policy!r} (use {' or '.join(FALLBACK_POLICIES)})",
                             field="--fallback")
    if settings.notice and notify is not None:
        notify(settings.notice)
    if check_reachable and replay_path is None:
        from agentsim.llm.config import check_reachable as probe

        asyncio.run(probe(settings, notify=notify))
    offline = OfflineMind()
    if replay_path is not None:
        backends: dict[str, Backend] = {tier: _Unavailable(_model_name(s)) for tier, s in
                                        settings.tiers.items()}
    else:
        # Tiers with the same settings share one backend: one connection pool, one step
        # down (said once) when the server refuses a response format, one model in process.
        shared: dict[Any, Backend] = {}
        for s in settings.tiers.values():
            if s not in shared:
                shared[s] = _backend(s, offline, settings.structured, settings.local, notify)
        backends = {tier: shared[s] for tier, s in settings.tiers.items()}
    counter = (_replay_counter(settings.tiers.get("smart"), notify) if replay_path is not None
               else getattr(backends.get("smart"), "count_tokens", None))
    if callable(counter):  # a backend with a tokenizer counts the prompt budgets
        prompts.count_tokens = counter
    calls, tokens, usd = budget
    return compose(
        backends,
        prompts,
        max_in_flight=max_in_flight or settings.max_in_flight,
        timeout=settings.timeout,
        max_retries=settings.max_retries,
        rng=rng or random.Random(0),
        recorder=Recorder(record_path) if record_path else None,
        replay=ReplaySource(replay_path) if replay_path else None,
        cache=ResponseCache(Path(cache_path)) if cache_path and not replay_path else None,
        budget=Budget(
            calls=calls if calls is not None else settings.budget_calls,
            tokens=tokens if tokens is not None else settings.budget_tokens,
            usd=usd if usd is not None else settings.budget_usd,
        ),
        fallback=offline if policy == "offline" else None,
        fallback_policy=policy,
        prices=settings.prices,
        seed=seed,
        give_up_after=_or(give_up[0], settings.give_up_after),
        give_up_failures=_or(give_up[1], settings.give_up_failures),
    )


def _replay_counter(settings: Any, notify: Callable[[str], None] | None
                    ) -> Callable[[str], int] | None:
    """The tokenizer a replayed run measured its prompts with, so prompts long enough to be
    trimmed are trimmed as they were: a local model's own (its vocabulary alone, no model
    loaded), when llama-cpp-python and the model file are here. Without them prompts are
    measured as characters / 4, and a prompt the run trimmed may not replay (said once)."""
    if settings is None or settings.provider != "local":
        return None
    from agentsim.errors import LLMConfigError
    from agentsim.llm.local_backend import LocalBackend, resolve_model

    try:
        return LocalBackend(resolve_model(settings.model)).count_tokens
    except (ImportError, LLMConfigError) as e:
        if notify is not None:
            notify(f"replay: the local model's tokenizer is not here ({e}); prompts are "
                   "measured as characters / 4, so a prompt the run trimmed may not replay")
        return None


def _backend(settings: Any, offline: OfflineMind, structured: str = "auto",
             local: dict[str, int] | None = None,
             notify: Callable[[str], None] | None = None) -> Backend:
    if settings.provider == "offline":
        return offline
    if settings.provider == "local":
        from agentsim.llm.local_backend import LocalBackend, require_llama_cpp, resolve_model

        require_llama_cpp()
        opts = local or {}
        return LocalBackend(resolve_model(settings.model), n_ctx=opts.get("n_ctx", 8192),
                            n_threads=opts.get("threads") or None,
                            n_gpu_layers=opts.get("gpu_layers", 0), notify=notify)
    from agentsim.llm.config import START_MODE
    from agentsim.llm.openai_backend import OpenAIBackend

    structured = settings.structured or structured  # the spec's ?structured= wins
    if structured == "auto":
        structured = START_MODE.get(settings.provider, "auto")
    return OpenAIBackend(
        settings.model,
        base_url=settings.base_url,
        api_key=settings.api_key,
        name=settings.provider,
        timeout=settings.timeout,
        structured=structured,
    )


def _model_name(settings: Any) -> str:
    """The model a tier's answers were recorded under."""
    if settings.provider == "local":
        from agentsim.llm.local_backend import model_name

        return model_name(settings.model)
    return settings.model


class _Unavailable:
    """The backend of a replay: any request the recording does not hold is a divergence."""

    name = "replay"

    def __init__(self, model: str):
        self.model = model

    async def complete(self, prompt):  # pragma: no cover - ReplaySource raises first
        raise RuntimeError(f"replay: no recorded answer for {prompt.template_id}")

    async def aclose(self) -> None:
        return None
