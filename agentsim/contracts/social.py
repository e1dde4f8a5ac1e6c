"""Contracts of the social prompts: whether to start a conversation, one turn of it (and its
critic and refiner when dialogue goes through self-refine), what each side remembers of it,
and an interview's answer (from the resident's memories and the passages it has read)."""

from __future__ import annotations

from pydantic import Field

from agentsim.contracts import samples as s
from agentsim.contracts.contract import Contract, Vars
from agentsim.contracts.outputs import (
    ConversationMemory,
    DialogueCritique,
    InterviewAnswer,
    Reaction,
    Turn,
)
from agentsim.contracts.shapes import (
    Attempt,
    Criterion,
    Line,
    Memory,
    Number,
    Passage,
    Person,
    Persona,
    PlanEntry,
)


class ReactVars(Vars):
    """The paper's reaction question about one observation new this tick: a person seen
    (`other` set: reacting starts a conversation), or anything else (an object, a world
    event, a whisper, something heard: reacting revises the plan)."""

    persona: Persona
    now: str
    date: str  # "Tuesday, February 14"
    date_iso: str
    activity: str
    observation: str
    other: Person | None = None
    relationship: str = ""
    closeness: Number = 0.0
    plan: list[PlanEntry]  # the rest of today's plan: start, activity
    memories: list[Memory]  # retrieved for the observation


class ConverseTurnVars(Vars):
    persona: Persona
    now: str
    place_name: str
    other: Person
    relationship: str
    closeness: Number
    memories: list[Memory]  # retrieved for the partner and what was just said
    # A validated copy: a `Refined` event records the transcript this turn was asked with.
    transcript: list[Line]
    turn: int
    max_turns: int
    fact: Passage | None = None  # a passage the speaker has read that bears on what was said


class DialogueRefineVars(ConverseTurnVars):
    history: list[Attempt]  # turn, feedback per earlier draft


class DialogueCritiqueVars(Vars):
    persona: Persona
    other: Person
    transcript: list[Line]
    utterance: str
    problems: list[str]  # what the checks found
    criteria: list[Criterion]


class ConversationMemoryVars(Vars):
    persona: Persona
    other: str  # the other person's name
    place_name: str
    transcript: list[Line]


class InterviewVars(Vars):
    persona: Persona
    now: str
    question: str
    memories: list[Memory]
    # The passages of documents the resident has read that its retrieved reading memories
    # point to (never the library's other passages: an interview knows what the resident
    # knows). Passed only when there are some.
    passages: list[Passage] = Field(default_factory=list)


def _turn() -> dict[str, object]:
    return {"persona": s.PERSONA, "now": "09:10", "place_name": "Hobbs Cafe", "other": s.OTHER,
            "relationship": "Tom Moreno is your regular customer.", "closeness": 0.3,
            "memories": s.MEMORIES, "transcript": s.TRANSCRIPT, "turn": 1,
            "max_turns": 8, "fact": s.PASSAGE}


REACT: Contract[ReactVars, Reaction] = Contract(
    "react", ReactVars, Reaction, tier="fast", budget=900,
    shown="none",  # a yes/no and a reason: SmolLM2 answered 11 of 11 with the grammar alone
    trim={"memories": "first", "plan": "last"},
    example=lambda: ReactVars(persona=s.PERSONA, now="09:00", date="Tuesday, February 14",
                              date_iso="2023-02-14", activity="serving customers",
                              observation="Tom Moreno is drinking coffee", other=s.OTHER,
                              relationship="Tom Moreno is your regular customer.",
                              closeness=0.3, plan=s.ROUTINE[1:], memories=s.MEMORIES))

CONVERSE_TURN: Contract[ConverseTurnVars, Turn] = Contract(
    "converse_turn", ConverseTurnVars, Turn, budget=1400,
    shown="compact",  # SmolLM2: 3 of 3 with the shape, 6 of 15 with the grammar alone
    trim={"memories": "first", "transcript": "last"},
    example=lambda: ConverseTurnVars(**_turn()))

# Declared "fast" before contracts, but always asked at the default ("smart") tier: routing it
# to the fast backend would change which model answers in two-tier runs, so it stays smart.
DIALOGUE_CRITIQUE: Contract[DialogueCritiqueVars, DialogueCritique] = Contract(
    "dialogue_critique", DialogueCritiqueVars, DialogueCritique, budget=1200,
    trim={"transcript": "last", "problems": "first"},
    example=lambda: DialogueCritiqueVars(
        persona=s.PERSONA, other=s.OTHER, transcript=s.TRANSCRIPT,
        utterance="Busy as ever! Are you coming to the party?", problems=[],
        criteria=[{"name": "responsive", "question": "Does it answer what was just said?"}]))

DIALOGUE_REFINE: Contract[DialogueRefineVars, Turn] = Contract(
    "dialogue_refine", DialogueRefineVars, Turn, budget=1600,
    trim={"memories": "first", "transcript": "last", "history": "last"},
    example=lambda: DialogueRefineVars(**_turn(), history=[
        {"turn": {"utterance": "Morning!", "shares_memory_id": None, "end_conversation": False,
                  "cites": None},
         "feedback": {"score": 0.4, "satisfied": False, "critique": "it does not answer Tom",
                      "issues": ["responsive"]}}]))

CONVERSATION_MEMORY: Contract[ConversationMemoryVars, ConversationMemory] = Contract(
    "conversation_memory", ConversationMemoryVars, ConversationMemory, tier="fast",
    budget=1200, trim={"transcript": "last"},
    example=lambda: ConversationMemoryVars(persona=s.PERSONA, other="Tom Moreno",
                                           place_name="Hobbs Cafe", transcript=s.TRANSCRIPT))

INTERVIEW: Contract[InterviewVars, InterviewAnswer] = Contract(
    "interview", InterviewVars, InterviewAnswer, budget=1600,
    trim={"memories": "first", "passages": "first"},
    example=lambda: InterviewVars(persona=s.PERSONA, now="Monday 10:00",
                                  question="What are you doing on Valentine's Day?",
                                  memories=s.MEMORIES, passages=[s.PASSAGE]))
