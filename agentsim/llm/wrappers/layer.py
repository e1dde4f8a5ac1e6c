"""What every wrapper of a Backend shares: it is a Backend itself, named as the one it wraps
(the cache key, the error messages and the prices name the provider, not the wrapper)."""

from __future__ import annotations

from agentsim.llm.accounting import Usage
from agentsim.llm.base import Backend, Completion, Prompt


class Layer:
    """A Backend over `inner`; subclasses override `complete`."""

    def __init__(self, inner: Backend):
        self.inner = inner
        self.name = inner.name
        self.model = inner.model

    async def complete(self, prompt: Prompt) -> Completion:
        return await self.inner.complete(prompt)

    async def aclose(self) -> None:
        await self.inner.aclose()


def count(usage: Usage, prompt: Prompt, **amounts: float) -> None:
    """Add `amounts` to the counters of the prompt's template, tier and agent (and the total)."""
    usage.add(prompt.agent, prompt.template_id, prompt.tier, **amounts)
