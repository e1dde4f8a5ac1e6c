"""The budget, checked before each live call (retries and re-asks included): a spent budget
raises BudgetExceeded instead of calling, and the answering steps above decide what that
means (the fallback answers, or the run stops). Cached and replayed answers cost nothing and
never reach this check."""

from __future__ import annotations

from agentsim.llm.accounting import Budget, Usage
from agentsim.llm.base import Backend, Completion, Prompt
from agentsim.llm.wrappers.layer import Layer


class Budgeted(Layer):
    def __init__(self, inner: Backend, budget: Budget, usage: Usage):
        super().__init__(inner)
        self.budget = budget
        self.usage = usage

    async def complete(self, prompt: Prompt) -> Completion:
        self.budget.check(self.usage)
        return await self.inner.complete(prompt)
