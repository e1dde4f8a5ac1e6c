"""What happens to a call the model could not answer (server errors after all retries, a
rejected request, no valid answer even after a re-ask, a spent budget). Falling back is a
named choice, never a default for a model: `Fallback` (`--fallback offline`) lets the offline
mind answer it, counted and recorded as `fallback`; `Stop` (`--fallback stop`, the default
for a model) ends the run cleanly at its last checkpoint, with no answer of the offline mind
mixed in. With neither, the error reaches the caller as it is (tests, scripts)."""

from __future__ import annotations

import logging

from agentsim.errors import BudgetExceeded, RetryableLLMError
from agentsim.llm.accounting import Usage
from agentsim.llm.answers import parse
from agentsim.llm.base import Answer, Answerer, Backend, Completion, Prompt
from agentsim.llm.wrappers.layer import count
from agentsim.llm.wrappers.watchdog import Watchdog

log = logging.getLogger("agentsim.llm")

# What the model could not answer: a ValueError (an unusable answer, a rejected request), a
# server fault that outlived its retries, a spent budget.
UNANSWERED = (ValueError, RetryableLLMError, BudgetExceeded)
KEEP_GOING = "--fallback offline lets the offline mind answer such calls"


class Fallback:
    """The `mind` (the offline mind) answers what `inner` could not. A server fault counts
    towards giving up on the server (`Watchdog.failed`): a dead server is not papered over
    by the fallback for a whole run. A warning is logged once per template (and once for
    the budget)."""

    def __init__(self, inner: Answerer, mind: Backend, usage: Usage, watchdog: Watchdog):
        self.inner = inner
        self.mind = mind
        self.usage = usage
        self.watchdog = watchdog
        self._warned: set[str] = set()

    async def answer(self, prompt: Prompt, key: str) -> Answer:
        try:
            return await self.inner.answer(prompt, key)
        except UNANSWERED as err:
            if isinstance(err, RetryableLLMError):
                self.watchdog.failed(err)  # raises LLMUnavailable when that was one too many
            return await self._fall_back(prompt, err)

    async def _fall_back(self, prompt: Prompt, err: Exception) -> Answer:
        count(self.usage, prompt, fallbacks=1)
        topic = "budget" if isinstance(err, BudgetExceeded) else prompt.template_id
        if topic not in self._warned:
            self._warned.add(topic)
            log.warning("no usable LLM answer for %r (%s): the fallback answers such calls",
                        prompt.template_id, " ".join(str(err).split())[:200])  # one line
        c = await self.mind.complete(prompt)
        return Answer(parse(c.text, prompt.output)[0], Completion(c.text, 0, 0, "fallback"),
                      "fallback")


class Stop:
    """A call the model could not answer ends the run, and every call in flight, with
    LLMUnavailable (one line, naming the way to keep going instead)."""

    def __init__(self, inner: Answerer, watchdog: Watchdog):
        self.inner = inner
        self.watchdog = watchdog

    async def answer(self, prompt: Prompt, key: str) -> Answer:
        try:
            return await self.inner.answer(prompt, key)
        except UNANSWERED as err:
            what = "budget spent" if isinstance(err, BudgetExceeded) else "failed"
            self.watchdog.halt(f"the model could not answer a {prompt.template_id!r} call "
                               f"({what}: {str(err)[:160]}) and the fallback is 'stop' "
                               f"({KEEP_GOING})")
