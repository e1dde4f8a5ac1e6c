"""One in-flight limit and one budget for the LLM traffic of every shard of a simulation.

Each shard has its own LLM client (built from the run's options), so each client's own
slots and budget only see that shard's calls. The `Ledger` is one Ray actor the shards' clients
consult around every request: a request takes one of the run's global slots before it goes
out (`acquire`) and gives it back with that shard's spend so far when it is answered
(`release`). A request finds the budget spent (calls, tokens or dollars summed over all
shards) before it takes a slot, and fails as a spent budget does in one process
(`BudgetExceeded`), so the run stops cleanly between ticks.

`share_ledger(client, ledger, who)` plugs a client into it: the client's slots object (the
one its `Bounded` layers enter for each request) is replaced by `SharedSlots`, an async
context manager over the ledger, so every other layer (retries, timeouts, metering) is as in
one process.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Iterable, Mapping
from dataclasses import asdict, fields
from typing import Any

from agentsim.errors import BudgetExceeded
from agentsim.llm.accounting import Budget, Counter, Usage


class Ledger:
    """The run's global slots and spend (a Ray actor with async methods: one event loop, so
    the semaphore and the counts need no lock). `spent` is each shard's total so far, as its
    client last reported it; the budget is checked against their sum."""

    def __init__(self, limit: int, budget: tuple[int | None, int | None, float | None]):
        self.limit = limit
        self.budget = Budget(*budget)
        self.slots = asyncio.Semaphore(limit)
        self.now = 0
        self.max_seen = 0
        self.calls = 0  # requests that took a slot
        self.spent: dict[str, tuple[int, int, float]] = {}

    async def acquire(self, who: str = "") -> tuple[str | None, tuple[int, int, float]]:
        """Take a slot for `who`, or say why the budget is spent (no slot taken); with the
        other shards' spend (calls, tokens, dollars)."""
        reason = self.exceeded()
        if not reason:
            await self.slots.acquire()
            reason = self.exceeded()  # spent while this request waited for its slot
            if reason:
                self.slots.release()
            else:
                self.now += 1
                self.calls += 1
                self.max_seen = max(self.max_seen, self.now)
        others = [v for k, v in self.spent.items() if k != who]
        return reason, (sum(o[0] for o in others), sum(o[1] for o in others),
                        sum(o[2] for o in others))

    async def release(self, who: str, calls: int, tokens: int, usd: float) -> None:
        """Give a slot back, with `who`'s spend so far."""
        self.now -= 1
        self.slots.release()
        self.spent[who] = (calls, tokens, usd)

    async def reset(self, spent: Mapping[str, tuple[int, int, float]]) -> None:
        """Start counting from a checkpoint's spend (a resumed run keeps its budget)."""
        self.spent = dict(spent)

    def exceeded(self) -> str | None:
        usage = Usage()
        for calls, tokens, usd in self.spent.values():
            usage.total.calls += calls
            usage.total.prompt_tokens += tokens
            usage.total.cost_usd += usd
        return self.budget.exceeded(usage)

    async def stats(self) -> dict[str, Any]:
        return {"limit": self.limit, "now": self.now, "max_seen": self.max_seen,
                "calls": self.calls, "spent": dict(self.spent)}


ASKING = 4  # slots a shard asks the ledger for at once


class SharedSlots:
    """What a shard's client enters around each request instead of its own semaphore: a slot
    of the run's `Ledger`.

    Two Ray calls per request would cost more than a fast model's answer, so a slot, once
    this shard has it, passes straight to the next request of the same shard that waits for
    one, and goes back to the ledger (with the shard's spend: the `Metered` layer inside has
    counted the request by then) only when none waits. The shard never holds more slots than
    it has requests out, so the run's limit holds and no slot idles here while another shard
    waits. A slot passed on checks the budget here: the other shards' spend as the ledger last
    said it, plus this shard's own."""

    def __init__(self, ledger: Any, who: str, usage: Usage, budget: Budget):
        self.ledger, self.who, self.usage, self.budget = ledger, who, usage, budget
        self.waiting: deque[asyncio.Future[str | None]] = deque()
        self.asking = 0  # slots asked of the ledger, not yet given
        self.others = (0, 0, 0.0)  # the other shards' spend, as the ledger last said
        self._tasks: set[asyncio.Future[None]] = set()

    async def __aenter__(self) -> None:
        got: asyncio.Future[str | None] = asyncio.get_running_loop().create_future()
        self.waiting.append(got)
        self._want()
        try:
            reason = await got
        except asyncio.CancelledError:
            if got.done() and not got.cancelled() and got.result() is None:
                await self._free()  # given a slot just as the request was called off
            raise
        if reason:
            raise BudgetExceeded(reason)

    async def __aexit__(self, *exc: object) -> None:
        await self._free()

    def _want(self) -> None:
        """Ask the ledger for slots for the requests waiting here, a few at a time (a slot
        passed on here often comes first)."""
        live = sum(not g.done() for g in self.waiting)
        while self.asking < min(live, ASKING):
            self.asking += 1
            task = asyncio.ensure_future(self._ask())
            self._tasks.add(task)  # kept until done (the loop holds tasks only weakly)
            task.add_done_callback(self._tasks.discard)

    async def _ask(self) -> None:
        reason, self.others = await self.ledger.acquire.remote(self.who)
        self.asking -= 1
        if not self._give(reason) and reason is None:
            await self._back()  # nobody waits any more
        self._want()

    async def _free(self) -> None:
        """A slot this shard holds is free: to the next request waiting here, or back."""
        reason = self._spent()
        if reason:
            await self._back()
            while self._give(reason):
                pass
        elif not self._give(None):
            await self._back()

    def _give(self, reason: str | None) -> bool:
        while self.waiting:
            got = self.waiting.popleft()
            if not got.done():
                got.set_result(reason)
                return True
        return False

    async def _back(self) -> None:
        t = self.usage.total
        await self.ledger.release.remote(self.who, t.calls, t.tokens, t.cost_usd)

    def _spent(self) -> str | None:
        usage = Usage()
        t = self.usage.total
        usage.total.calls = self.others[0] + t.calls
        usage.total.prompt_tokens = self.others[1] + t.tokens
        usage.total.cost_usd = self.others[2] + t.cost_usd
        return self.budget.exceeded(usage)


def share_ledger(client: Any, ledger: Any, who: str, budget: Budget) -> None:
    """Make `client` (an `LLMClient`) take the run's global slots for each request, within
    the run's `budget`. Its `InFlight` is the one object all its `Bounded` layers enter; only
    its semaphore changes."""
    in_flight = getattr(client, "_in_flight", None)
    if in_flight is None or not hasattr(in_flight, "slots"):
        raise TypeError(f"{type(client).__name__} has no request slots to share")
    in_flight.slots = SharedSlots(ledger, who, client.usage, budget)


def merged(summaries: Iterable[Mapping[str, Any]]) -> dict[str, Any]:
    """The sum of several clients' `Usage.summary()`s, as a summary (`Usage.restore` reads it):
    what every shard spent, reported by the coordinator as one run's spend."""
    total = Usage()
    for s in summaries:
        part = Usage()
        part.restore(dict(s))
        _add(total.total, part.total)
        for name in ("by_tier", "by_template", "by_agent"):
            mine: dict[str, Counter] = getattr(total, name)
            for key, c in getattr(part, name).items():
                _add(mine.setdefault(key, Counter()), c)
    return total.summary()


def _add(into: Counter, c: Counter) -> None:
    for f in fields(Counter):
        if f.name == "origins":
            for k, v in c.origins.items():
                into.origins[k] = into.origins.get(k, 0) + v
        else:
            setattr(into, f.name, getattr(into, f.name) + getattr(c, f.name))


def totals(summary: Mapping[str, Any]) -> tuple[int, int, float]:
    """(calls, tokens, dollars) of a usage summary."""
    t = summary.get("total", {})
    c = Counter(**{k: v for k, v in t.items() if k in asdict(Counter())})
    return c.calls, c.tokens, c.cost_usd
