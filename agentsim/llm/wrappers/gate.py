"""How many requests are out at once: a backend's own limit (`Gate`: a model in this process
or a one-slot server serves one request at a time), and the run's (`Bounded`, over one
`InFlight` shared by every backend of the run)."""

from __future__ import annotations

import asyncio
import weakref

from agentsim.llm.base import Backend, Completion, Prompt
from agentsim.llm.wrappers.layer import Layer


class Gate(Layer):
    """At most `limit` requests at once to this backend. The wait is here, outside the run's
    slots and before a request's timeout starts, so a queue in front of a one-request model
    neither holds slots other backends could use nor times out. One semaphore per event loop
    (a client may serve more than one loop, e.g. a sync bridge and a run)."""

    def __init__(self, inner: Backend, limit: int):
        super().__init__(inner)
        self.limit = limit
        self._gates: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Semaphore] = \
            weakref.WeakKeyDictionary()

    async def complete(self, prompt: Prompt) -> Completion:
        loop = asyncio.get_running_loop()
        if (gate := self._gates.get(loop)) is None:
            gate = self._gates[loop] = asyncio.Semaphore(self.limit)
        async with gate:
            return await self.inner.complete(prompt)


class InFlight:
    """The run's slots: at most `limit` requests out at once over all backends, and the
    numbers a progress line shows (`now`, `max_seen`)."""

    def __init__(self, limit: int):
        self.limit = limit
        self.now = 0
        self.max_seen = 0
        self.slots = asyncio.Semaphore(limit)


class Bounded(Layer):
    """A request takes one of the run's slots for as long as it is out."""

    def __init__(self, inner: Backend, in_flight: InFlight):
        super().__init__(inner)
        self.in_flight = in_flight

    async def complete(self, prompt: Prompt) -> Completion:
        f = self.in_flight
        async with f.slots:
            f.now += 1
            f.max_seen = max(f.max_seen, f.now)
            try:
                return await self.inner.complete(prompt)
            finally:
                f.now -= 1
