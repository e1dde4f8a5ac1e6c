"""Accounting, at both ends of the stack: `Metered` (next to the provider) counts each request
that got an answer (calls, tokens, latency, dollars); `Origins` (outermost) counts each answer
by who gave it (model, repaired, reasked, fallback, offline, cache, replay), and answers from
the cache or a replay as cache hits. Both write to the run's one `Usage`."""

from __future__ import annotations

import time

from agentsim.llm.accounting import Usage, cost
from agentsim.llm.base import Answer, Answerer, Backend, Completion, Prompt
from agentsim.llm.wrappers.layer import Layer, count

STORED = ("cache", "replay")  # origins of answers that cost no call


class Metered(Layer):
    """`prices`: USD per 1M tokens (input, output) by model, over the built-in list."""

    def __init__(self, inner: Backend, usage: Usage,
                 prices: dict[str, tuple[float, float]] | None = None):
        super().__init__(inner)
        self.usage = usage
        self.prices = prices or {}

    async def complete(self, prompt: Prompt) -> Completion:
        t0 = time.perf_counter()
        c = await self.inner.complete(prompt)
        count(self.usage, prompt, calls=1,
              prompt_tokens=c.prompt_tokens, completion_tokens=c.completion_tokens,
              latency_s=time.perf_counter() - t0,
              cost_usd=cost(c.model or self.model, c.prompt_tokens, c.completion_tokens,
                            self.prices, self.name))
        return c


class Origins:
    """Counts every answer by its origin, per template, tier and agent."""

    def __init__(self, inner: Answerer, usage: Usage):
        self.inner = inner
        self.usage = usage

    async def answer(self, prompt: Prompt, key: str) -> Answer:
        a = await self.inner.answer(prompt, key)
        if a.origin in STORED:
            count(self.usage, prompt, cache_hits=1)
        self.usage.answered(prompt.agent, prompt.template_id, prompt.tier, a.origin)
        return a
