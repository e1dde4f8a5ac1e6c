"""What the LLM cost: calls, tokens, latency and dollars per agent, per template, per tier;
and budgets that stop a run cleanly."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from agentsim.errors import BudgetExceeded

# USD per 1M tokens (input, output). Local providers cost nothing. Extend with [llm.prices].
PRICES: dict[str, tuple[float, float]] = {
    "gpt-4o-mini": (0.15, 0.60),
    "gpt-4o": (2.50, 10.00),
    "gpt-4.1-nano": (0.10, 0.40),
    "gpt-4.1-mini": (0.40, 1.60),
    "gpt-4.1": (2.00, 8.00),
}


@dataclass
class Counter:
    calls: int = 0
    cache_hits: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    latency_s: float = 0.0
    cost_usd: float = 0.0
    retries: int = 0
    repairs: int = 0
    fallbacks: int = 0
    errors: int = 0

    @property
    def tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens


@dataclass
class Usage:
    total: Counter = field(default_factory=Counter)
    by_agent: dict[str, Counter] = field(default_factory=dict)
    by_template: dict[str, Counter] = field(default_factory=dict)
    by_tier: dict[str, Counter] = field(default_factory=dict)

    def _all(self, agent: str | None, template: str, tier: str) -> list[Counter]:
        out = [self.total, self.by_template.setdefault(template, Counter()),
               self.by_tier.setdefault(tier, Counter())]
        if agent:
            out.append(self.by_agent.setdefault(agent, Counter()))
        return out

    def add(self, agent: str | None, template: str, tier: str, **amounts: float) -> None:
        for c in self._all(agent, template, tier):
            for k, v in amounts.items():
                setattr(c, k, getattr(c, k) + v)

    def summary(self) -> dict[str, Any]:
        def dump(c: Counter) -> dict[str, Any]:
            d = asdict(c)
            d["latency_s"] = round(d["latency_s"], 3)
            d["cost_usd"] = round(d["cost_usd"], 6)
            return d

        return {
            "total": dump(self.total),
            "by_tier": {k: dump(v) for k, v in sorted(self.by_tier.items())},
            "by_template": {k: dump(v) for k, v in sorted(self.by_template.items())},
            "by_agent": {k: dump(v) for k, v in sorted(self.by_agent.items())},
        }

    def table(self) -> str:
        rows = [("template", "calls", "cached", "tokens", "retries", "repairs", "fallbacks",
                 "cost $")]
        for name, c in sorted(self.by_template.items()):
            rows.append((name, c.calls, c.cache_hits, c.tokens, c.retries, c.repairs,
                         c.fallbacks, f"{c.cost_usd:.4f}"))
        t = self.total
        rows.append(("total", t.calls, t.cache_hits, t.tokens, t.retries, t.repairs,
                     t.fallbacks, f"{t.cost_usd:.4f}"))
        widths = [max(len(str(r[i])) for r in rows) for i in range(len(rows[0]))]
        return "\n".join(
            "  ".join(str(v).ljust(w) if i == 0 else str(v).rjust(w)
                      for i, (v, w) in enumerate(zip(r, widths, strict=True)))
            for r in rows
        )


def cost(model: str, prompt_tokens: int, completion_tokens: int,
         prices: dict[str, tuple[float, float]] | None = None) -> float:
    table = {**PRICES, **(prices or {})}
    p = table.get(model)
    if p is None:
        # "gpt-4o-mini-2024-07-18" prices as "gpt-4o-mini": the longest known prefix.
        known = [k for k in table if model.startswith(k)]
        p = table[max(known, key=len)] if known else (0.0, 0.0)
    return (prompt_tokens * p[0] + completion_tokens * p[1]) / 1e6


@dataclass(frozen=True)
class Budget:
    calls: int | None = None
    tokens: int | None = None
    usd: float | None = None

    def exceeded(self, usage: Usage) -> str | None:
        t = usage.total
        if self.calls is not None and t.calls >= self.calls:
            return f"LLM call budget of {self.calls} spent"
        if self.tokens is not None and t.tokens >= self.tokens:
            return f"LLM token budget of {self.tokens} spent"
        if self.usd is not None and t.cost_usd >= self.usd:
            return f"LLM budget of ${self.usd:.2f} spent"
        return None

    def check(self, usage: Usage) -> None:
        reason = self.exceeded(usage)
        if reason:
            raise BudgetExceeded(reason)
