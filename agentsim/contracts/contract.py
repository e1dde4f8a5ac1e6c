"""A prompt contract: everything agentsim knows about one template, declared once.

    IMPORTANCE = Contract("importance", ImportanceVars, ImportanceScores, tier="fast",
                          budget=1200, example=lambda: ImportanceVars(...))
    answer = await IMPORTANCE.ask(ctx.llm, ImportanceVars(persona=..., observations=[...]),
                                  agent=agent.id)

`ask` is the only way cognition calls a template (`answer` is `ask` with the answer's origin:
who gave it, the model or the offline mind as a fallback, for a measure that counts answers):
the template id, the output model and the tier come from the contract, never from the call
site, so they cannot drift apart. Underneath it is the LLM interface's `llm.ask(id, variables,
schema=output, tier=tier, agent=agent)`; the variables it passes are `Vars.dump()`, the very
dict the call sites built before contracts (same keys, same values, same order), so rendered
prompts do not change by a byte.

This module imports only pydantic: the LLM layer (the prompt library's budgets, the offline
mind) reads contracts too, and must not depend on cognition.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Generic, Protocol, TypeVar

from pydantic import BaseModel, ConfigDict

DEFAULT_BUDGET = 2000  # prompt tokens for a template whose contract names no budget
SHOWN = ("json", "compact", "none")  # how a grammar-enforcing server's prompt shows the format


class Vars(BaseModel):
    """The variables of one template. Unknown names are an error (a misspelt variable is a
    bug, not something to render around). A field with a default is a variable the template
    only reads behind `is defined`: it is passed only when the caller set it."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    def dump(self) -> dict[str, Any]:
        """The variables as the template (and `Prompt.variables`) sees them: the fields the
        caller set, in declaration order, with their values as given (no serialisation, so a
        value renders exactly as it did when call sites passed dicts)."""
        return {k: getattr(self, k) for k in type(self).model_fields if k in self.model_fields_set}


V = TypeVar("V", bound=Vars)
A = TypeVar("A")  # the answer: an output model instance, or text


class Asker(Protocol):
    """The part of `agentsim.llm.base.LLM` a contract calls (restated here so contracts do not
    import the LLM layer, which imports them)."""

    async def ask(self, template_id: str, variables: Mapping[str, Any], *,
                  schema: type[BaseModel] | None = None, tier: str = "smart",
                  agent: str | None = None) -> Any: ...


UNKNOWN = "unknown"  # the origin of an answer from an LLM that does not say (a test's fake)


@dataclass(frozen=True)
class Answered(Generic[A]):
    """An answer and who gave it. `origin`: model, repaired, reasked (the model's own words),
    fallback (the offline mind, because the model could not), offline (the offline mind is
    the run's mind), cache (a cached answer whose origin the cache did not keep: never a
    fallback, which is never cached), replay (a replayed answer whose recording did not keep
    its origin), or `unknown` (an LLM without `ask_answer`, such as a test's fake)."""

    value: A
    origin: str


class Answering(Asker, Protocol):
    """An `Asker` that also says who answered (`agentsim.llm.base.LLM.ask_answer`)."""

    async def ask_answer(self, template_id: str, variables: Mapping[str, Any], *,
                         schema: type[BaseModel] | None = None, tier: str = "smart",
                         agent: str | None = None) -> Answered[Any]: ...


# Every contract declared, by template id: a contract registers itself when it is created.
CONTRACTS: dict[str, Contract[Any, Any]] = {}


@dataclass(frozen=True, eq=False)
class Contract(Generic[V, A]):
    """One template's contract.

    id        the template file, `prompts/<id>.j2`
    variables the pydantic model of its variables (a `Vars`)
    output    the pydantic model its answer must validate against (None: plain text)
    tier      the backend tier that answers it ("smart" or "fast")
    budget    the most prompt tokens it may render to (within the model's context)
    trim      list variables that may lose items to fit the budget, and which end is kept:
              "first" (ranked lists: the best come first) or "last" (transcripts: the latest)
    example   a function returning a typical value of `variables` (tests render it; the docs
              show it)
    sized     when the output model depends on the variables (e.g. exactly one score per
              observation), the function that builds it
    shown     how the answer's JSON format is shown to a model whose server enforces the
              schema with a grammar (llama.cpp, vLLM, Ollama, LM Studio): "json" a filled-in
              example, "compact" the keys and their types in one line, "none" nothing (the
              grammar alone). The model never reads a grammar, so some templates need the
              example to write anything sensible (SmolLM2 rambles to its token limit on a
              plan without one), while others copy it word for word (a summary that starts
              with the example's name); the choice is measured per template
              (benchmarks/bench_examples.py). Servers that enforce nothing always get the
              example; OpenAI's own API, which shows the model the schema, none.
    """

    id: str
    variables: type[V]
    output: type[BaseModel] | None
    example: Callable[[], V]
    tier: str = "smart"
    budget: int = DEFAULT_BUDGET
    trim: Mapping[str, str] = field(default_factory=dict)
    sized: Callable[[V], type[BaseModel]] | None = None
    shown: str = "json"

    def __post_init__(self) -> None:
        if self.shown not in SHOWN:
            raise ValueError(f"contract {self.id!r}: shown is one of {', '.join(SHOWN)}")
        unknown = sorted(set(self.trim) - set(self.variables.model_fields))
        if unknown:
            raise ValueError(f"contract {self.id!r}: trim names {unknown}, not variables")
        if any(end not in ("first", "last") for end in self.trim.values()):
            raise ValueError(f"contract {self.id!r}: trim keeps 'first' or 'last' items")
        if self.id in CONTRACTS:
            raise ValueError(f"two contracts for template {self.id!r}")
        CONTRACTS[self.id] = self

    def sample(self, **over: Any) -> V:
        """The example with some variables replaced (validated): a test's variables, with
        only what the test is about spelled out."""
        return self.variables.model_validate({**self.example().dump(), **over})

    def output_for(self, variables: V) -> type[BaseModel] | None:
        """The model this request's answer must validate against."""
        return self.sized(variables) if self.sized is not None else self.output

    async def ask(self, llm: Asker, variables: V, *, agent: str | None = None) -> A:
        """Ask `llm` this template with `variables`; the validated answer (text when `output`
        is None)."""
        if not isinstance(variables, self.variables):
            raise TypeError(f"{self.id} takes {self.variables.__name__}, "
                            f"not {type(variables).__name__}")
        return await llm.ask(self.id, variables.dump(), schema=self.output_for(variables),
                             tier=self.tier, agent=agent)

    async def answer(self, llm: Asker | Answering, variables: V, *,
                     agent: str | None = None) -> Answered[A]:
        """`ask`, with the answer's origin. An LLM whose class defines no `ask_answer` (a fake
        that implements only `ask`, even one that hands every other attribute on to a real
        client) is asked with `ask`, and its answer's origin is `unknown`."""
        if not isinstance(variables, self.variables):
            raise TypeError(f"{self.id} takes {self.variables.__name__}, "
                            f"not {type(variables).__name__}")
        if getattr(type(llm), "ask_answer", None) is None:
            return Answered(await self.ask(llm, variables, agent=agent), UNKNOWN)
        return await llm.ask_answer(self.id, variables.dump(),
                                    schema=self.output_for(variables), tier=self.tier,
                                    agent=agent)

    def validate(self, variables: Mapping[str, Any]) -> V:
        """Plain variables (what a backend receives in `Prompt.variables`) as the typed model."""
        if isinstance(variables, self.variables):
            return variables
        return self.variables.model_validate(dict(variables))

    def __repr__(self) -> str:
        return f"Contract({self.id!r})"


async def ask(llm: Asker, contract: Contract[V, A], variables: V, *,
              agent: str | None = None) -> A:
    """`contract.ask(llm, variables, agent=agent)`, as a function."""
    return await contract.ask(llm, variables, agent=agent)
