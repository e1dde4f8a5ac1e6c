"""Build the LLM a run uses from a spec, a config file and the run's record/replay files.

Provider packages (openai) are imported here only when a spec names a provider, so the
offline path never loads them.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from pathlib import Path
from typing import Any

from agentsim.errors import LLMConfigError
from agentsim.llm.base import Backend
from agentsim.llm.client import FALLBACK_POLICIES, LLMClient
from agentsim.llm.offline import OfflineMind
from agentsim.llm.prompts import PromptLibrary


def client_for(backend: Backend, **kwargs: Any) -> LLMClient:
    """An LLMClient over one backend for every tier (tests, scripts)."""
    kwargs.setdefault("rng", random.Random(0))
    return LLMClient({"fast": backend, "smart": backend}, PromptLibrary(), **kwargs)


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
    config file's `[llm] fallback`, else `offline`)."""
    from agentsim.llm.accounting import Budget
    from agentsim.llm.config import _or, load_settings
    from agentsim.llm.prompt_check import check_prompts
    from agentsim.llm.record import Recorder, ReplaySource, ResponseCache

    prompts = PromptLibrary()
    check_prompts(prompts)  # a broken template: one line naming it now, not mid-run
    settings = load_settings(spec, config_path)
    policy = fallback or settings.fallback
    if policy not in FALLBACK_POLICIES:
        raise LLMConfigError(f"unknown fallback {policy!r} (use {' or '.join(FALLBACK_POLICIES)})",
                             field="--fallback")
    if settings.notice and notify is not None:
        notify(settings.notice)
    if check_reachable and replay_path is None:
        import asyncio

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
    counter = getattr(backends.get("smart"), "count_tokens", None)
    if callable(counter):  # a backend with a tokenizer counts the prompt budgets
        prompts.count_tokens = counter
    calls, tokens, usd = budget
    b = Budget(
        calls=calls if calls is not None else settings.budget_calls,
        tokens=tokens if tokens is not None else settings.budget_tokens,
        usd=usd if usd is not None else settings.budget_usd,
    )
    client = LLMClient(
        backends,
        prompts,
        max_in_flight=max_in_flight or settings.max_in_flight,
        timeout=settings.timeout,
        max_retries=settings.max_retries,
        rng=rng or random.Random(0),
        recorder=Recorder(record_path) if record_path else None,
        replay=ReplaySource(replay_path) if replay_path else None,
        cache=ResponseCache(Path(cache_path)) if cache_path and not replay_path else None,
        budget=b,
        fallback=offline,
        prices=settings.prices,
        seed=seed,
        give_up_after=_or(give_up[0], settings.give_up_after),
        give_up_failures=_or(give_up[1], settings.give_up_failures),
        fallback_policy=policy,
    )
    return client


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
