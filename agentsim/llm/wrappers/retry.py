"""Retrying what is worth retrying: a 429, a 5xx, a timeout, a dropped connection
(RetryableLLMError) is tried again after a backoff with full jitter (uniform in
[0, min(cap, base * 2^attempt)], at least the server's Retry-After, at most the cap). The
jitter draws from the `rng` passed in, so a seeded run backs off the same way each time.
A rejected request is counted as an error and passed on (no retry helps); a fatal one (bad
key, unknown model) becomes an LLMConfigError, one line naming the provider."""

from __future__ import annotations

import asyncio
import random
from collections.abc import Awaitable, Callable
from typing import Any

from agentsim.errors import FatalLLMError, LLMConfigError, RequestRejected, RetryableLLMError
from agentsim.llm.accounting import Usage
from agentsim.llm.base import Backend, Completion, Prompt
from agentsim.llm.wrappers.layer import Layer, count


class Retry(Layer):
    """`max_retries` tries after the first; `check` runs before each wait (it raises when the
    stack has given up on the server, so no one sleeps for a server that is gone)."""

    def __init__(self, inner: Backend, usage: Usage, *, rng: random.Random,
                 max_retries: int = 6, backoff_base: float = 0.5, backoff_max: float = 30.0,
                 sleep: Callable[[float], Awaitable[Any]] = asyncio.sleep,
                 check: Callable[[], None] = lambda: None):
        super().__init__(inner)
        self.usage = usage
        self.rng = rng
        self.max_retries = max_retries
        self.backoff_base = backoff_base
        self.backoff_max = backoff_max
        self.sleep = sleep
        self.check = check

    async def complete(self, prompt: Prompt) -> Completion:
        for attempt in range(self.max_retries + 1):
            try:
                return await self.inner.complete(prompt)
            except RetryableLLMError as e:
                count(self.usage, prompt, errors=1)
                if attempt == self.max_retries:
                    raise
                await self._back_off(prompt, attempt, e.retry_after)
            except RequestRejected:
                count(self.usage, prompt, errors=1)
                raise
            except FatalLLMError as e:
                raise LLMConfigError(str(e), field=f"llm ({self.name}:{self.model})") from None
        raise AssertionError("unreachable")

    async def _back_off(self, prompt: Prompt, attempt: int, retry_after: float | None) -> None:
        delay = self.rng.uniform(0, min(self.backoff_max, self.backoff_base * 2**attempt))
        if retry_after is not None:
            delay = max(delay, min(retry_after, self.backoff_max))
        count(self.usage, prompt, retries=1)
        self.check()
        await self.sleep(delay)
