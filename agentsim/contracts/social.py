"""Contracts of the social prompts: whether to start a conversation, one turn of it (and its
critic and refiner when dialogue goes through self-refine), what each side remembers of it,
and an interview's answer (from the resident's memories and the passages it has read)."""

from __future__ import annotations

from pydantic import Field, SkipValidation

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
    News,
    Number,
    Passage,
    Person,
    Persona,
)


class ReactVars(Vars):
    persona: Persona
    now: str
    activity: str
    other: Person
    relationship: str
    closeness: Number
    news: list[News]
    memories: list[Memory]


class ConverseTurnVars(Vars):
    persona: Persona
    now: str
    place_name: str
    other: Person
    relationship: str
    closeness: Number
    memories: list[Memory]
    news: list[News]
    # The caller's list itself, not a validated copy: converse appends each turn to it, and
    # the `Refined` events of dialogue have always held it by reference, so they record the
    # transcript as it is when the tick's events are written (later turns included). Kept so
    # that events stay byte-identical; a copy here would record what the turn was asked with.
    transcript: SkipValidation[list[Line]]
    turn: int
    max_turns: int
    fact: Passage | None = None  # a passage to pass on, if one bears on what was said


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
            "memories": s.MEMORIES, "news": s.NEWS, "transcript": s.TRANSCRIPT, "turn": 1,
            "max_turns": 8, "fact": s.PASSAGE}


REACT: Contract[ReactVars, Reaction] = Contract(
    "react", ReactVars, Reaction, tier="fast", budget=900,
    trim={"memories": "first", "news": "first"},
    example=lambda: ReactVars(persona=s.PERSONA, now="09:00", activity="serving customers",
                              other=s.OTHER, relationship="Tom Moreno is your regular customer.",
                              closeness=0.3, news=s.NEWS, memories=s.MEMORIES))

CONVERSE_TURN: Contract[ConverseTurnVars, Turn] = Contract(
    "converse_turn", ConverseTurnVars, Turn, budget=1400,
    trim={"memories": "first", "news": "first", "transcript": "last"},
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
    trim={"memories": "first", "news": "first", "transcript": "last", "history": "last"},
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
