"""The classroom's contract: a teacher's turn in a lesson, from the lesson's sources.

    teach_turn   the teacher speaks to the class about a topic of the lesson plan, with the
                 passages of the world's knowledge/ found for it (RAG) and what the students
                 said so far -> GroupTurn (what the teacher says)

The students speak with `group_turn` (their own memories, misconceptions included); how much
they learnt is measured by interview (`agentsim.protocols.classroom`)."""

from __future__ import annotations

from agentsim.contracts import samples as s
from agentsim.contracts.contract import Contract, Vars
from agentsim.contracts.group import GroupTurn, Heard
from agentsim.contracts.shapes import Passage, Persona


class TeachTurnVars(Vars):
    persona: Persona
    now: str
    topic: str  # the lesson plan's item under way
    students: list[str]  # names
    heard: list[Heard]  # what was said so far about this topic, oldest first
    passages: list[Passage]  # found in the world's knowledge/ for the topic, best first


TEACH_TURN: Contract[TeachTurnVars, GroupTurn] = Contract(
    "teach_turn", TeachTurnVars, GroupTurn, budget=1600,
    trim={"heard": "last", "passages": "first"},
    example=lambda: TeachTurnVars(
        persona=s.PERSONA, now="Monday 10:00", topic="why things fall",
        students=["Tom Moreno", "Maria Lopez"],
        heard=[{"speaker": "Tom Moreno", "text": "Heavy things fall faster, surely."}],
        passages=[{"id": "knowledge/falling.md#1", "document": "knowledge/falling.md",
                   "title": "Falling", "text": "Without air, all objects fall at the same "
                   "rate, whatever their mass.", "score": 0.71}]))
