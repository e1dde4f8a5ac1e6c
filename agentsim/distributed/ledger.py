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

    async def acquire(self) -> str | None:
        """Take a slot for one request, or say why the budget is spent (no slot taken)."""
        reason = self.exceeded()
        if reason:
            return reason
        await self.slots.acquire()
        reason = self.exceeded()  # spent while this request waited for its slot
        if reason:
            self.slots.release()
            return reason
        self.now += 1
        self.calls += 1
        self.max_seen = max(self.max_seen, self.now)
        return None

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


class SharedSlots:
    """What a shard's client enters around each request instead of its own semaphore: a slot
    of the run's `Ledger`, given back with the shard's spend (the `Metered` layer inside has
    counted the request by then)."""

    def __init__(self, ledger: Any, who: str, usage: Usage):
        self.ledger, self.who, self.usage = ledger, who, usage

    async def __aenter__(self) -> None:
        reason = await self.ledger.acquire.remote()
        if reason:
            raise BudgetExceeded(reason)

    async def __aexit__(self, *exc: object) -> None:
        t = self.usage.total
        await self.ledger.release.remote(self.who, t.calls, t.tokens, t.cost_usd)


def share_ledger(client: Any, ledger: Any, who: str) -> None:
    """Make `client` (an `LLMClient`) take the run's global slots for each request. Its
    `InFlight` is the one object all its `Bounded` layers enter; only its semaphore changes."""
    in_flight = getattr(client, "_in_flight", None)
    if in_flight is None or not hasattr(in_flight, "slots"):
        raise TypeError(f"{type(client).__name__} has no request slots to share")
    in_flight.slots = SharedSlots(ledger, who, client.usage)


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
