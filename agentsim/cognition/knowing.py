"""Knowledge probes: asking a resident whether it knows about something, and checking its
answer against its memory stream, as Park et al. 2023 (Sec. 7.1) did by hand.

    p = await probe(agent, "Do you know about the Valentine's Day party?",
                    "the Valentine's Day party", ["Valentine's Day party"], ctx)
    p.verdict   "knows" | "hallucinated" | "does not know"

The resident answers from the memories it retrieves for the question (nothing else: no
document it did not read, no persona field) with a structured yes/no and the ids of the
memories it rests on (`KNOWS_ABOUT`). A "yes" counts as knowing only when at least one cited
id is a memory the resident really has and that memory tells of the topic (names it, or its
event's title does; or satisfies the caller's `check`); a "yes" without such evidence is a
hallucination, counted apart. Probes never change the simulation (retrieval does not touch
the memories, nothing is remembered)."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

from agentsim.cognition.agent import Agent
from agentsim.cognition.context import Context
from agentsim.cognition.memorize import memory_vars, recall
from agentsim.contracts import KNOWS_ABOUT, KnowsAboutVars
from agentsim.contracts.knowing import names
from agentsim.memory.record import MemoryRecord

KNOWS, HALLUCINATED, UNKNOWING = "knows", "hallucinated", "does not know"
Check = Callable[[MemoryRecord], bool]


@dataclass(frozen=True)
class Probe:
    """One resident's answer to one probe, with its evidence checked."""

    agent: str
    topic: str
    question: str
    says: bool  # the structured yes/no
    answer: str
    evidence: tuple[int, ...]  # the memory ids it cited
    valid: tuple[int, ...]  # of those, the ones it has that tell of the topic

    @property
    def verdict(self) -> str:
        if not self.says:
            return UNKNOWING
        return KNOWS if self.valid else HALLUCINATED


def naming(aliases: Iterable[str]) -> Check:
    """The default check: the memory's text, or its event's title, names an alias."""
    aliases = list(aliases)
    return lambda r: names(r.text, aliases) or (r.event is not None
                                                and names(r.event.title, aliases))


def person_aliases(name: str, everyone: Iterable[str]) -> list[str]:
    """How a memory may name a resident: the full name, and the first name when no other
    resident shares it ("Tom" for Tom Moreno)."""
    first = name.split()[0]
    shared = sum(1 for n in everyone if n.split()[0] == first)
    return [name, first] if " " in name and shared == 1 else [name]


def checked(agent: Agent, cited: Iterable[int], check: Check) -> tuple[int, ...]:
    """The cited ids that are memories of this agent and pass `check`."""
    n = len(agent.memory)
    return tuple(i for i in dict.fromkeys(cited) if 0 <= i < n and check(agent.memory.get(i)))


async def probe(agent: Agent, question: str, topic: str, aliases: list[str], ctx: Context, *,
                check: Check | None = None, k: int = 8) -> Probe:
    """Ask `agent` `question` about `topic` and check the evidence of its answer."""
    found = await recall(agent, question, ctx, k=k, touch=False)
    out = await KNOWS_ABOUT.ask(ctx.llm, KnowsAboutVars(
        persona=agent.persona_vars(ctx.world_name), now=f"{ctx.now:%A %H:%M}",
        question=question, topic=topic, aliases=aliases,
        memories=memory_vars(found, ctx.places)), agent=agent.id)
    cited = tuple(out.evidence)
    valid = checked(agent, cited, check or naming(aliases)) if out.knows else ()
    return Probe(agent.id, topic, question, out.knows, out.answer, cited, valid)
