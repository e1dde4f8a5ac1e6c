"""Giving up on a server that is gone, and stopping when the model could not answer.

A server that is down or hangs for good is given up on (LLMUnavailable, which the run loops
turn into a clean stop) when no call has succeeded for `give_up_after` seconds while calls
were being tried, or when `give_up_failures` calls in a row ended in the fallback after their
retries. Any answer from the server resets both. Calls in flight when the stack gives up end
at once with the same error, and so does every later call.

One `Watchdog` is shared by the whole stack; `Tracked` (around all the tries of one call) and
`Watched` (around one request) are the wrappers that feed it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import weakref
from collections.abc import Awaitable, Iterator, Sequence
from typing import NoReturn, TypeVar

from agentsim.errors import LLMUnavailable, RetryableLLMError
from agentsim.llm.base import Backend, Completion, Prompt
from agentsim.llm.wrappers.layer import Layer

log = logging.getLogger("agentsim.llm")
T = TypeVar("T")


class Watchdog:
    """`labels`: the servers, as `name:model`, named when the stack gives up.
    `give_up_after`: seconds without a successful call (while calls are tried); 0: never.
    `give_up_failures`: calls in a row answered by the fallback after all their retries;
    0: never."""

    def __init__(self, labels: Sequence[str], give_up_after: float, give_up_failures: int):
        self.labels = sorted(set(labels))
        self.give_up_after = give_up_after
        self.give_up_failures = give_up_failures
        self.gave_up: str | None = None  # why the stack gave up, once it has
        self.failed_in_a_row = 0  # calls answered by the fallback since the last answer
        self._since: float | None = None  # when the calls being tried began, with no answer
        self._trying = 0  # calls being tried (in flight or waiting to retry)
        # set when the stack gives up, one per event loop it is used on
        self._gone: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Event] = \
            weakref.WeakKeyDictionary()

    @contextlib.contextmanager
    def trying(self) -> Iterator[None]:
        """Around all the tries of one call: the clock of an outage runs while any is tried."""
        self._trying += 1
        if self._since is None:
            self._since = time.monotonic()
        try:
            yield
        finally:
            self._trying -= 1
            if self._trying == 0:  # nothing is being tried: idle time is no outage
                self._since = None

    def answered(self) -> None:
        """An answer came: the server is there."""
        self.failed_in_a_row = 0
        self._since = None if self._trying <= 1 else time.monotonic()

    def failed(self, err: Exception) -> None:
        """A call failed after all its retries (and the fallback answers it); raises
        LLMUnavailable when that was one too many in a row."""
        self.failed_in_a_row += 1
        if self.give_up_failures and self.failed_in_a_row >= self.give_up_failures:
            self.give_up(f"{self.failed_in_a_row} LLM calls in a row failed after all their "
                         f"retries (last: {str(err)[:120]})")
        self.check()

    def check(self) -> None:
        """Raises LLMUnavailable once the stack has given up, or it is time to."""
        if self.gave_up is None and self.give_up_after > 0 and self._since is not None \
                and time.monotonic() - self._since >= self.give_up_after:
            self.give_up(f"no LLM call succeeded for {self.give_up_after:g}s")
        if self.gave_up is not None:
            raise LLMUnavailable(self.gave_up)

    def give_up(self, reason: str) -> None:
        """The server is gone: say which, and end every call in flight."""
        self._end(f"the LLM server seems down ({', '.join(self.labels)}): {reason}")

    def halt(self, reason: str) -> NoReturn:
        """Stop for `reason` (the first reason stands), ending every call in flight; raises
        LLMUnavailable."""
        self._end(reason)
        raise LLMUnavailable(self.gave_up or reason)

    def _end(self, reason: str) -> None:
        if self.gave_up is None:
            self.gave_up = reason
            log.info("%s", reason)
            for event in self._gone.values():
                event.set()

    async def wait(self, request: Awaitable[T], timeout: float) -> T:
        """`request`, ended by the timeout, or at once when the stack gives up (a hung request
        is not waited for beyond `give_up_after` since the last answer)."""
        loop = asyncio.get_running_loop()
        if (event := self._gone.get(loop)) is None:
            event = self._gone[loop] = asyncio.Event()
        task = asyncio.ensure_future(request)
        gone = asyncio.ensure_future(event.wait())
        deadline = time.monotonic() + timeout
        try:
            while True:
                now = time.monotonic()
                wait = deadline - now
                if self.give_up_after > 0 and self._since is not None:
                    wait = min(wait, self._since + self.give_up_after - now)
                done, _ = await asyncio.wait({task, gone}, timeout=max(0.0, wait),
                                             return_when=asyncio.FIRST_COMPLETED)
                if task in done:
                    return task.result()
                self.check()  # gives up when it is time, and raises
                if time.monotonic() >= deadline:
                    raise RetryableLLMError(f"timed out after {timeout:g}s")
        finally:
            gone.cancel()
            if not task.done():
                task.cancel()
                try:
                    # the request we dropped may have failed meanwhile: no matter
                    with contextlib.suppress(Exception):
                        await task
                except asyncio.CancelledError:
                    current = asyncio.current_task()
                    if current is not None and current.cancelling():  # we are cancelled too
                        raise


class Tracked(Layer):
    """Around all the tries of one call (retries included): tells the watchdog a call is
    being tried, so an outage is timed only while something waits for the server."""

    def __init__(self, inner: Backend, watchdog: Watchdog):
        super().__init__(inner)
        self.watchdog = watchdog

    async def complete(self, prompt: Prompt) -> Completion:
        with self.watchdog.trying():
            return await self.inner.complete(prompt)


class Watched(Layer):
    """One request: refused at once when the stack has given up, ended by `timeout` (a
    RetryableLLMError) or when the stack gives up meanwhile; an answer tells the watchdog the
    server is there."""

    def __init__(self, inner: Backend, watchdog: Watchdog, timeout: float):
        super().__init__(inner)
        self.watchdog = watchdog
        self.timeout = timeout

    async def complete(self, prompt: Prompt) -> Completion:
        self.watchdog.check()
        if not self.waits:  # it answers within the call: nothing to time or to end early
            c = await self.inner.complete(prompt)
        else:
            c = await self.watchdog.wait(self.inner.complete(prompt), self.timeout)
        self.watchdog.answered()
        return c
