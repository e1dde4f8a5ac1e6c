"""The LLM client cognition talks to: it renders a template into a `Prompt` and hands it to a
stack of small wrappers (`agentsim.llm.wrappers`, composed by `agentsim.llm.factory.compose`),
then reads back the run's spend, state and description for the engine and the edges.

    ask -> render the template -> Prompt -> (replay | cache -> fallback/stop -> validate,
    repair, re-ask -> retry -> budget -> gate -> slots -> timeout -> backend)

Model faults (429, 5xx, timeouts, garbled JSON) never crash a run: they are retried,
repaired, re-asked, and then either answered by the offline mind (`--fallback offline`) or
turned into a clean stop (`--fallback stop`, LLMUnavailable). Fatal errors (bad key, unknown
model) raise LLMConfigError. Every answer has an origin (model, repaired, reasked, fallback,
offline, cache, replay; see `agentsim.llm.accounting`), counted in `usage` and written with
the answer to the LLM record.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Protocol

from pydantic import BaseModel

from agentsim.contracts import CONTRACTS
from agentsim.contracts.contract import Answered
from agentsim.llm.accounting import Budget, Usage
from agentsim.llm.answers import json_schema, output_instruction
from agentsim.llm.base import Answer, Answerer, Backend, Prompt
from agentsim.llm.config import FALLBACKS
from agentsim.llm.prompts import PromptLibrary
from agentsim.llm.repair import scrub
from agentsim.llm.wrappers import InFlight, Watchdog

__all__ = ["FALLBACK_POLICIES", "LLMClient", "output_instruction"]

FALLBACK_POLICIES = FALLBACKS  # what answers a call the model could not


class _Closable(Protocol):
    def close(self) -> None: ...


class LLMClient:
    """The composed LLM (see `agentsim.llm.base.LLM`): build it with
    `agentsim.llm.factory.compose` (or `build_llm`, `client_for`), not by hand.

    `backends`: the provider edge of each tier ("smart" required; a missing tier uses
    smart's); `answerer`: the top of the stack; the rest are the stack's shared parts that
    the client reports on. `fallback`: the policy in force (`offline`, `stop`), or None when
    a failed call reaches the caller as it is. `stores`: the recorder and cache to close."""

    def __init__(self, backends: Mapping[str, Backend], prompts: PromptLibrary,
                 answerer: Answerer, *, usage: Usage, budget: Budget, in_flight: InFlight,
                 watchdog: Watchdog, timeout: float, seed: int = 0,
                 fallback: str | None = None, replaying: bool = False,
                 stores: Sequence[_Closable] = ()):
        if "smart" not in backends:
            raise ValueError("backends need at least a 'smart' tier")
        self.backends = dict(backends)
        self.prompts = prompts
        self.answerer = answerer
        self.usage = usage
        self.budget = budget
        self.watchdog = watchdog
        self.timeout = timeout
        self.seed = seed
        self.fallback_policy = fallback
        self.replaying = replaying
        self._in_flight = in_flight
        self._stores = list(stores)

    # -- the interface ----------------------------------------------------------------------
    async def ask(
        self,
        template_id: str,
        variables: Mapping[str, Any],
        *,
        schema: type[BaseModel] | None = None,
        tier: str = "smart",
        agent: str | None = None,
    ) -> Any:
        return (await self._answer(template_id, variables, schema, tier, agent)).value

    async def ask_answer(
        self,
        template_id: str,
        variables: Mapping[str, Any],
        *,
        schema: type[BaseModel] | None = None,
        tier: str = "smart",
        agent: str | None = None,
    ) -> Answered[Any]:
        """`ask`, with who gave the answer: model, repaired, reasked, fallback, offline (a
        replayed or cached answer keeps the origin it was given with; see `Answer.given_by`)."""
        a = await self._answer(template_id, variables, schema, tier, agent)
        return Answered(a.value, a.given_by)

    async def _answer(self, template_id: str, variables: Mapping[str, Any],
                      schema: type[BaseModel] | None, tier: str, agent: str | None) -> Answer:
        backend = self.backends.get(tier, self.backends["smart"])
        prompt = self._prompt(template_id, variables, schema, tier, agent)
        return await self.answerer.answer(prompt, prompt.cache_key(backend.model))

    def get_state(self) -> dict[str, Any]:
        """What a checkpoint keeps of the client: the spend so far."""
        return {"usage": self.usage.summary()}

    def set_state(self, state: Mapping[str, Any]) -> None:
        self.usage.restore(dict(state.get("usage", {})))

    def budget_exceeded(self) -> str | None:
        """Why the budget is spent, or None: the engine checks it between ticks."""
        return self.budget.exceeded(self.usage)

    def stats(self) -> dict[str, Any]:
        """Live numbers for a progress line: totals, and what is in flight now."""
        t = self.usage.total
        return {"calls": t.calls, "cache_hits": t.cache_hits, "tokens": t.tokens,
                "cost_usd": round(t.cost_usd, 6), "retries": t.retries, "repairs": t.repairs,
                "reasks": t.reasks, "fallbacks": t.fallbacks, "errors": t.errors,
                "origins": dict(t.origins), "model_share": t.model_share,
                "in_flight": self.in_flight,
                "max_in_flight_seen": self.max_in_flight_seen,
                "max_in_flight": self.max_in_flight}

    def describe(self) -> dict[str, Any]:
        tiers = {t: {"backend": b.name, "model": b.model} for t, b in sorted(self.backends.items())}
        names = {f"{b.name}:{b.model}" for b in self.backends.values()}
        offline = all(b.name == "offline" for b in self.backends.values())
        summary = "offline mind" if offline else ", ".join(
            f"{t}={v['backend']}:{v['model']}" for t, v in tiers.items()) if len(names) > 1 \
            else next(iter(names))
        if self.replaying:
            summary = "replay of a recorded run (no LLM calls)"
        return {"summary": summary, "offline": offline and not self.replaying, "tiers": tiers,
                "max_in_flight": self.max_in_flight, "timeout": self.timeout,
                "fallback": self.fallback_policy}

    async def aclose(self) -> None:
        for b in {id(b): b for b in self.backends.values()}.values():
            await b.aclose()
        for store in self._stores:
            store.close()

    # -- what the stack's shared parts say (tests, benchmarks) ------------------------------
    @property
    def in_flight(self) -> int:
        return self._in_flight.now

    @property
    def max_in_flight_seen(self) -> int:
        return self._in_flight.max_seen

    @property
    def max_in_flight(self) -> int:
        return self._in_flight.limit

    @property
    def gave_up(self) -> str | None:
        """Why the client gave up on the server (or stopped), once it has."""
        return self.watchdog.gave_up

    @property
    def failed_in_a_row(self) -> int:
        return self.watchdog.failed_in_a_row

    @property
    def give_up_after(self) -> float:
        return self.watchdog.give_up_after

    @property
    def give_up_failures(self) -> int:
        return self.watchdog.give_up_failures

    # -- internals --------------------------------------------------------------------------
    def _prompt(self, template_id: str, variables: Mapping[str, Any],
                schema: type[BaseModel] | None, tier: str, agent: str | None) -> Prompt:
        # A lone surrogate (say from a skill's return value) cannot be sent or stored.
        messages = tuple(scrub(m) for m in self.prompts.render(template_id, variables))
        schema_json = json_schema(schema) if schema is not None else None
        # the JSON instruction rides along; a backend adds it where the model does not see the
        # schema, as much of it as the template's contract shows where a grammar enforces it
        # (`Prompt.instructed`)
        shown = contract.shown if (contract := CONTRACTS.get(template_id)) else "json"
        return Prompt(template_id, variables, messages, schema_json,
                      schema.__name__ if schema else None, tier, self.seed, agent, output=schema,
                      instruction=output_instruction(schema) if schema is not None else "",
                      grammar_instruction=output_instruction(schema, shown, enforced=True)
                      if schema is not None else None)
