"""Self-refine (Madaan et al., 2023): generate, get feedback, refine with the history of
attempts and their feedback, until the critic is satisfied or the rounds run out.

    trace = await refine(generate, feedback, improve, kind="day_plan", max_rounds=3)
    trace.final          # the output to use
    trace.stopped        # "satisfied" | "max_rounds" | "unchanged"
    trace.attempts       # every output with the feedback it got, in order

One loop serves every use: day plans (an LLM critique against named criteria, with checks
computed from the world), skill code (the sandbox's errors and the self-verification verdict).
The loop knows nothing of prompts or the world; each use passes three coroutines. The trace
is kept in the run (a `refined` event) so each loop can be inspected, and `agentsim export
RUN --refinements` turns the traces into (request, final output) pairs. A long list in the
request (a plan's places) is stored once per resident and referenced after that
(`by_reference`, `resolve_lists`).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

T = TypeVar("T")

MAX_ROUNDS = 3


@dataclass(frozen=True)
class Feedback:
    """A critic's verdict on one output: a score in [0, 1], whether it is good enough (the stop
    flag), a short critique, and the named criteria it failed."""

    score: float
    satisfied: bool
    critique: str = ""
    issues: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {"score": round(self.score, 4), "satisfied": self.satisfied,
                "critique": self.critique, "issues": list(self.issues)}


@dataclass(frozen=True)
class Attempt(Generic[T]):
    output: T
    feedback: Feedback


@dataclass
class Refinement(Generic[T]):
    """The trace of one loop: every attempt with its feedback, and why it stopped."""

    kind: str
    attempts: list[Attempt[T]] = field(default_factory=list)
    stopped: str = ""  # "satisfied" | "max_rounds" | "unchanged"

    @property
    def final(self) -> T:
        """The satisfying attempt, else the best-scored one (the latest of equals)."""
        last = self.attempts[-1]
        if last.feedback.satisfied:
            return last.output
        best = max(range(len(self.attempts)), key=lambda n: (self.attempts[n].feedback.score, n))
        return self.attempts[best].output

    @property
    def rounds(self) -> int:
        return len(self.attempts)

    @property
    def satisfied(self) -> bool:
        return self.stopped == "satisfied"


Generate = Callable[[], Awaitable[T]]
Critic = Callable[[T], Awaitable[Feedback]]
Improve = Callable[[T, Sequence[Attempt[T]]], Awaitable[T]]


async def refine(generate: Generate[T], feedback: Critic[T], improve: Improve[T], *,
                 kind: str, max_rounds: int = MAX_ROUNDS) -> Refinement[T]:
    """Run the loop. `improve(latest, history)` gets the latest output and every attempt so
    far (each with its feedback). `max_rounds` counts outputs, the first included, so 1 means
    generate and critique once with no refinement.

    A refinement equal to an attempt already judged ends the loop ("unchanged") instead of
    being judged again: the critic's input would be what it judged before (a plan's critique
    and checks, a skill's sandbox run and verdict all follow from the output alone), so it
    would only repeat that feedback, and the refiner, shown the same history plus a repeat,
    has nothing new to go on."""
    if max_rounds < 1:
        raise ValueError("max_rounds must be at least 1")
    trace: Refinement[T] = Refinement(kind)
    output = await generate()
    while True:
        verdict = await feedback(output)
        trace.attempts.append(Attempt(output, verdict))
        if verdict.satisfied:
            trace.stopped = "satisfied"
            return trace
        if len(trace.attempts) >= max_rounds:
            trace.stopped = "max_rounds"
            return trace
        output = await improve(output, list(trace.attempts))
        if any(output == a.output for a in trace.attempts):
            trace.stopped = "unchanged"
            return trace


def by_reference(variables: dict[str, Any], keys: Sequence[str], kept: set[str]
                 ) -> tuple[dict[str, Any], dict[str, Any]]:
    """`variables` with the lists under `keys` replaced by `{"$list": id}` (a content hash),
    and the lists not in `kept` yet (which it then holds), by id. A trace then stores a list
    the resident has already had once by reference, not as a copy (issue 17); `resolve_lists`
    puts them back."""
    out, lists = dict(variables), {}
    for key in keys:
        value = variables.get(key)
        if not isinstance(value, list):
            continue
        blob = json.dumps(value, sort_keys=True, ensure_ascii=False, default=str)
        ref = hashlib.sha256(blob.encode("utf-8", "surrogatepass")).hexdigest()[:16]
        out[key] = {"$list": ref}
        if ref not in kept:
            kept.add(ref)
            lists[ref] = value
    return out, lists


def resolve_lists(variables: dict[str, Any], lists: dict[str, Any]) -> dict[str, Any]:
    """`variables` with each `{"$list": id}` replaced by the list `lists` holds for it (a
    reference to a list never seen is left as it is)."""
    return {k: lists.get(v["$list"], v) if isinstance(v, dict) and set(v) == {"$list"} else v
            for k, v in variables.items()}


def trace_fields(trace: Refinement[Any], template: str, variables: dict[str, Any],
                 dump: Callable[[Any], Any] | None = None, *,
                 lists: dict[str, Any] | None = None) -> dict[str, Any]:
    """The fields of a `Refined` event for `trace`: `dump` turns an output into JSON data
    (by default the output's own `model_dump()`, for the pydantic answers of the LLM);
    `lists` are the lists the variables reference for the first time (`by_reference`)."""
    dump = dump or (lambda output: output.model_dump())
    return {
        "kind": trace.kind,
        "request": {"template": template, "variables": variables,
                    **({"lists": lists} if lists else {})},
        "attempts": [{"output": dump(a.output), "feedback": a.feedback.to_dict()}
                     for a in trace.attempts],
        "stopped": trace.stopped,
        "final": dump(trace.final),
    }
