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
        # False: `complete` answers within the call and never waits (see `waits`)
        self.waits = waits(inner)

    async def complete(self, prompt: Prompt) -> Completion:
        return await self.inner.complete(prompt)

    async def aclose(self) -> None:
        await self.inner.aclose()


def waits(backend: Backend) -> bool:
    """Whether `backend.complete` may wait (a server, a model thread). A backend that answers
    within the call itself (the offline mind) says `waits = False`: no timeout or outage can
    happen while it answers, so `Watched` calls it without the tasks a timeout needs."""
    return bool(getattr(backend, "waits", True))


def count(usage: Usage, prompt: Prompt, **amounts: float) -> None:
    """Add `amounts` to the counters of the prompt's template, tier and agent (and the total)."""
    usage.add(prompt.agent, prompt.template_id, prompt.tier, **amounts)
