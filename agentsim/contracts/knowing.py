"""The contract of a knowledge probe: does a resident know about something (a piece of news,
or another resident), judged from its answer -- a structured yes/no and the ids of the
memories it rests on, so the measurement can check the evidence against the resident's
memory stream (Park et al. 2023 Sec. 7.1 checked each "yes" by hand for hallucination).

    knows_about   "Do you know about the Valentine's Day party?" -> {knows, answer, evidence}

`agentsim.metrics` asks it for diffusion (`by="interview"`) and for network density (one
question per ordered pair of residents, "Do you know Tom Moreno?")."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

from pydantic import Field

from agentsim.contracts import samples as s
from agentsim.contracts.answer import Out
from agentsim.contracts.contract import Contract, Vars
from agentsim.contracts.outputs import MemoryId
from agentsim.contracts.shapes import Memory, Persona


def names(text: str, aliases: Iterable[str]) -> bool:
    """Whether `text` names the topic by one of its aliases, as whole words, in any case
    ("Tom" names Tom Moreno in "Tom told me", not in "tomorrow"). What "a memory tells of it"
    means, for the offline mind's answer and for the check of any model's evidence alike."""
    return any(re.search(rf"(?<!\w){re.escape(a.strip())}(?!\w)", text, re.IGNORECASE)
               for a in aliases if a.strip())


def memory_names(memory: Mapping[str, Any], aliases: Iterable[str]) -> bool:
    """A memory (as prompt variables) tells of the topic: its text, or its event's title."""
    aliases = list(aliases)
    event = memory.get("event")
    title = str(event.get("title", "")) if isinstance(event, Mapping) else ""
    return names(str(memory.get("text", "")), aliases) or names(title, aliases)


class KnowsAboutVars(Vars):
    persona: Persona
    now: str
    question: str  # as asked: "Do you know about the Valentine's Day party?"
    topic: str  # what it is about: "the Valentine's Day party", "Tom Moreno"
    # the words a memory may name the topic by ("Tom Moreno", "Tom"); the topic if one
    aliases: list[str]
    memories: list[Memory]  # retrieved for the question, best first


class KnowsAnswer(Out):
    """A yes/no with the evidence: the ids of the memories the answer rests on."""

    knows: bool = Field(description="true only if a memory listed tells of it",
                        examples=[True])
    answer: str = Field(min_length=1, max_length=1000,
                        description="one or two sentences, first person",
                        examples=["Yes, Isabella told me about it yesterday."])
    evidence: list[MemoryId] = Field(default_factory=list, max_length=20,
                                     description="ids of the memories that tell of it",
                                     examples=[[1]])
    _words = ("answer",)


# Asked at the interview's tier: the probe measures the same mind an interview talks to.
KNOWS_ABOUT: Contract[KnowsAboutVars, KnowsAnswer] = Contract(
    "knows_about", KnowsAboutVars, KnowsAnswer, budget=1400,
    trim={"memories": "first"},
    example=lambda: KnowsAboutVars(
        persona=s.PERSONA, now="Monday 10:00",
        question="Do you know about the Valentine's Day party?",
        topic="the Valentine's Day party", aliases=["Valentine's Day party"],
        memories=s.MEMORIES))
