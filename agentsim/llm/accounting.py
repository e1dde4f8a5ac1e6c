"""What the LLM cost: calls, tokens, latency and dollars per agent, per template, per tier;
who answered (the origin of each answer, and the model's share); and budgets that stop a run
cleanly.

Each answer has one origin: `model` (the model's text as it came), `repaired` (the model's
text fixed by the JSON repair step), `reasked` (valid only after a re-ask), `fallback` (the
offline mind answered because the model could not), `offline` (the offline mind is the
configured mind), `cache` (the shared response cache), `replay` (a recorded run).

The *model share* is the share of the answers meant for a model that the model gave:
(model + repaired + reasked) / (those + fallback). Answers of a configured offline mind, of
the cache and of a replay are counted apart; with none meant for a model the share is None.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from agentsim.errors import BudgetExceeded

# USD per 1M tokens (input, output), list prices of hosted models. A dated snapshot
# ("gpt-4o-mini-2024-07-18") prices as its longest known prefix; unknown models cost 0.
# Local providers cost nothing. Extend or override with `[llm] prices` in agentsim.toml.
PRICES: dict[str, tuple[float, float]] = {
    "gpt-4o-mini": (0.15, 0.60),
    "gpt-4o": (2.50, 10.00),
    "gpt-4.1-nano": (0.10, 0.40),
    "gpt-4.1-mini": (0.40, 1.60),
    "gpt-4.1": (2.00, 8.00),
    "gpt-5-nano": (0.05, 0.40),
    "gpt-5-mini": (0.25, 2.00),
    "gpt-5": (1.25, 10.00),
}
FREE_PROVIDERS = frozenset({"offline", "ollama", "vllm", "llamacpp", "lmstudio"})

ORIGINS = ("model", "repaired", "reasked", "fallback", "offline", "cache", "replay")
MODEL_ORIGINS = ("model", "repaired", "reasked")  # the model's own words
MIN_MODEL_SHARE = 0.5  # below this share a run says loudly that the model mostly did not answer


@dataclass
class Counter:
    calls: int = 0
    cache_hits: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    latency_s: float = 0.0
    cost_usd: float = 0.0
    retries: int = 0
    repairs: int = 0  # answers fixed by the JSON repair step
    reasks: int = 0  # answers asked for again after an invalid one
    fallbacks: int = 0
    errors: int = 0
    origins: dict[str, int] = field(default_factory=dict)  # answers by origin (see ORIGINS)

    @property
    def tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens

    @property
    def model_answers(self) -> int:
        return sum(self.origins.get(o, 0) for o in MODEL_ORIGINS)

    @property
    def model_share(self) -> float | None:
        """Of the answers meant for a model, the share the model gave (None: no such answer,
        e.g. a run on the offline mind)."""
        mine = self.model_answers
        meant = mine + self.origins.get("fallback", 0)
        return mine / meant if meant else None


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

    def answered(self, agent: str | None, template: str, tier: str, origin: str) -> None:
        """One answer, by its origin."""
        for c in self._all(agent, template, tier):
            c.origins[origin] = c.origins.get(origin, 0) + 1

    def summary(self) -> dict[str, Any]:
        def dump(c: Counter) -> dict[str, Any]:
            d = asdict(c)
            d["latency_s"] = round(d["latency_s"], 3)
            d["cost_usd"] = round(d["cost_usd"], 6)
            d["origins"] = dict(sorted(c.origins.items()))
            share = c.model_share
            d["model_share"] = None if share is None else round(share, 4)
            return d

        return {
            "total": dump(self.total),
            "by_tier": {k: dump(v) for k, v in sorted(self.by_tier.items())},
            "by_template": {k: dump(v) for k, v in sorted(self.by_template.items())},
            "by_agent": {k: dump(v) for k, v in sorted(self.by_agent.items())},
        }

    def restore(self, summary: dict[str, Any]) -> None:
        """Continue counting from a `summary()` (a resumed run keeps its spend and budget)."""
        def load(d: dict[str, Any]) -> Counter:
            c = Counter(**{k: v for k, v in d.items() if k in Counter.__dataclass_fields__})
            c.origins = dict(c.origins or {})
            return c

        self.total = load(summary.get("total", {}))
        for name in ("by_tier", "by_template", "by_agent"):
            setattr(self, name, {k: load(v) for k, v in summary.get(name, {}).items()})

    def table(self) -> str:
        """A plain-text table for the end of a run: one row per template, per tier, total."""
        rows: list[tuple[Any, ...]] = [("template", "calls", "cached", "tokens", "avg s",
                                        "retries", "repairs", "re-asks", "fallbacks", "errors",
                                        "model", "cost $")]

        def row(name: str, c: Counter) -> tuple[Any, ...]:
            avg = f"{c.latency_s / c.calls:.2f}" if c.calls else "-"
            return (name, c.calls, c.cache_hits, c.tokens, avg, c.retries, c.repairs,
                    c.reasks, c.fallbacks, c.errors, share_text(c.model_share),
                    f"{c.cost_usd:.4f}")

        rows += [row(name, c) for name, c in sorted(self.by_template.items())]
        if len(self.by_tier) > 1:
            rows += [row(f"tier:{tier}", c) for tier, c in sorted(self.by_tier.items())]
        rows.append(row("total", self.total))
        widths = [max(len(str(r[i])) for r in rows) for i in range(len(rows[0]))]
        return "\n".join(
            "  ".join(str(v).ljust(w) if i == 0 else str(v).rjust(w)
                      for i, (v, w) in enumerate(zip(r, widths, strict=True)))
            for r in rows
        )


def share_text(share: float | None) -> str:
    """0.923 -> '92%'; a share just under 100 % never rounds up to it; None -> '-'."""
    if share is None:
        return "-"
    pct = round(share * 100)
    if pct == 100 and share < 1:
        pct = 99
    return f"{pct}%"


def share_warning(usage: Usage, minimum: float = MIN_MODEL_SHARE) -> str | None:
    """One line when the model gave less than `minimum` of the answers meant for it."""
    t = usage.total
    share = t.model_share
    if share is None or share >= minimum:
        return None
    meant = t.model_answers + t.origins.get("fallback", 0)
    return (f"the model answered only {share_text(share)} of the {meant} LLM calls meant for "
            f"it (under {share_text(minimum)}): {t.origins.get('fallback', 0)} were answered "
            "by the built-in offline mind as a fallback, so this run is mostly not the "
            "model's behaviour")


def cost(model: str, prompt_tokens: int, completion_tokens: int,
         prices: dict[str, tuple[float, float]] | None = None, provider: str | None = None
         ) -> float:
    """USD for one call. `provider` (the backend's name): local servers cost nothing, unless
    the model has a price of its own in `prices`."""
    if provider in FREE_PROVIDERS and model not in (prices or {}):
        return 0.0
    table = {**PRICES, **(prices or {})}
    p = table.get(model)
    if p is None:
        # "gpt-4o-mini-2024-07-18" prices as "gpt-4o-mini": the longest known prefix.
        known = [k for k in table if model.startswith(k)]
        p = table[max(known, key=len)] if known else (0.0, 0.0)
    return (prompt_tokens * p[0] + completion_tokens * p[1]) / 1e6


@dataclass(frozen=True)
class Budget:
    """Limits on calls, tokens and dollars spent (None: no limit)."""

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
        """Raises BudgetExceeded once a limit is reached."""
        reason = self.exceeded(usage)
        if reason:
            raise BudgetExceeded(reason)
