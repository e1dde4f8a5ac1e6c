"""Asking the next tick's questions early, without letting timing into the results (issue 17).

A tick waits on its longest chain of model calls in a row: a resident's step (importance,
then the reaction), then the conversations (their turns, then remembering). Most of the
next tick's step does not depend on this tick's conversations: a resident who is not
talking sees the same world once the intents are resolved, whatever is said elsewhere. So
once the engine has resolved a tick it *foresees* the next one: it runs the next tick's
step on a throwaway copy of each resident (`cognition.step.foresee`) while the talks go on,
and every model call that copy makes is sent at once and kept here.

When the next tick really runs, a step's call is answered from what was foreseen only if it
is the very same request (template, variables, schema, tier, resident): the answer is the
one the call would have got, so the events never depend on whether, or how far, a foresight
got (a resumed run, which foresees nothing at first, publishes the same events). A
foreseen request nobody asks again (an intervention changed the world, a plan was revised
when the tick settled) is wasted, never used wrongly; the engine foresees only when another
tick follows, so a run's last tick asks nothing ahead.

Requests are paired one to one per *side*: each foresight is a side and the real ticks are
one, so a request asked twice by the same step (or foreseen twice) is sent twice, as it
would be without foresight, and a request foreseen once and then asked once is sent once.
"""

from __future__ import annotations

import asyncio
import json
from collections import Counter
from collections.abc import Coroutine, Mapping
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel

from agentsim.llm.base import LLM

REAL = "real"  # the side of the ticks that really run


@dataclass
class _Entry:
    template_id: str
    answer: asyncio.Future[Any]
    sides: set[object] = field(default_factory=set)  # who has taken this answer


def _key(template_id: str, variables: Mapping[str, Any], schema: type[BaseModel] | None,
         tier: str, agent: str | None) -> str:
    schema_id = None if schema is None else f"{schema.__module__}.{schema.__qualname__}"
    return json.dumps([template_id, variables, schema_id, tier, agent], sort_keys=True,
                      default=str, ensure_ascii=False)


def _retrieve(fut: asyncio.Future[Any]) -> None:
    """(A failed answer nobody awaited is not worth a warning.)"""
    if not fut.cancelled():
        fut.exception()


class Foresight:
    """The requests asked ahead and their answers, shared between foresights and the ticks.

    `asker(side)` is the LLM a context of that side asks through; `start(work)` runs one
    foresight (a coroutine) in the background; `forget()` drops what was foreseen and
    cancels what only a foresight was waiting for."""

    def __init__(self, llm: LLM):
        self.llm = llm
        self._entries: dict[str, list[_Entry]] = {}
        self._work: list[asyncio.Task[Any]] = []
        # what became of the requests foreseen, by template (tests and benchmarks): taken by
        # the ticks, or never taken (sent in vain, or cancelled before it was answered)
        self.taken: Counter[str] = Counter()
        self.wasted: Counter[str] = Counter()

    @property
    def reused(self) -> int:
        """Requests the ticks took from a foresight."""
        return self.taken.total()

    def asker(self, side: object = REAL) -> Asker:
        return Asker(self, side)

    async def ask(self, side: object, template_id: str, variables: Mapping[str, Any], *,
                  schema: type[BaseModel] | None = None, tier: str = "smart",
                  agent: str | None = None) -> Any:
        key = _key(template_id, variables, schema, tier, agent)
        entries = self._entries.setdefault(key, [])
        entry = next((e for e in entries if side not in e.sides), None)
        if entry is not None and side == REAL and entry.answer.done() and (
                entry.answer.cancelled() or entry.answer.exception() is not None):
            entry = None  # a foresight's failed request is asked again, as it would have been
        if entry is None:
            entry = _Entry(template_id, asyncio.ensure_future(self.llm.ask(
                template_id, variables, schema=schema, tier=tier, agent=agent)))
            entry.answer.add_done_callback(_retrieve)
            entries.append(entry)
        elif side == REAL:
            self.taken[template_id] += 1
        entry.sides.add(side)
        # shielded: a cancelled asker (an abandoned foresight) leaves the request to others
        return await asyncio.shield(entry.answer)

    def start(self, work: Coroutine[Any, Any, Any]) -> None:
        """Run one foresight in the background; what it raises is dropped (the tick that
        really runs asks again and meets the error itself)."""
        task = asyncio.ensure_future(work)
        task.add_done_callback(_retrieve)
        self._work.append(task)

    def forget(self) -> list[asyncio.Future[Any]]:
        """Drop every foreseen request: cancel the foresights still running and the requests
        the ticks have not taken (a request the ticks are awaiting goes on). Returns what it
        cancelled (`drop` awaits it); what the ticks never took is counted in `wasted`."""
        cancelled: list[asyncio.Future[Any]] = []
        for task in self._work:
            if task.cancel():
                cancelled.append(task)
        self._work.clear()
        for entries in self._entries.values():
            for e in entries:
                if REAL in e.sides:
                    continue
                self.wasted[e.template_id] += 1
                if e.answer.cancel():
                    cancelled.append(e.answer)
        self._entries.clear()
        return cancelled

    async def drop(self) -> None:
        """`forget`, then wait for what it cancelled to wind down, so no request is left
        half-way when the loop ends."""
        await asyncio.gather(*self.forget(), return_exceptions=True)

    @property
    def pending(self) -> int:
        """Foresights still running."""
        return sum(not t.done() for t in self._work)


class Asker:
    """The LLM as one side sees it: `ask` goes through the foresight table; everything else
    (usage, budget, state) is the client's."""

    def __init__(self, foresight: Foresight, side: object):
        self._foresight = foresight
        self._side = side

    async def ask(self, template_id: str, variables: Mapping[str, Any], *,
                  schema: type[BaseModel] | None = None, tier: str = "smart",
                  agent: str | None = None) -> Any:
        return await self._foresight.ask(self._side, template_id, variables, schema=schema,
                                         tier=tier, agent=agent)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._foresight.llm, name)
