"""The contract of `agentsim evaluate`'s judge: one interview question, the anonymised answers
of the conditions (labelled A, B, C, ... in an order the caller shuffles), ranked by
believability (Park et al. 2023 Sec. 6.2, with an LLM in the place of the human evaluators)."""

from __future__ import annotations

from typing import Any

from agentsim.contracts import samples as s
from agentsim.contracts.contract import Contract, Vars
from agentsim.contracts.outputs import JudgeRanking
from agentsim.contracts.shapes import Persona

# label, text, evidence (memories the answer drew on: not shown to a model, see the template)
JudgedAnswer = dict[str, Any]


class JudgeRankVars(Vars):
    persona: Persona
    question: str
    answers: list[JudgedAnswer]


JUDGE_RANK: Contract[JudgeRankVars, JudgeRanking] = Contract(
    "judge_rank", JudgeRankVars, JudgeRanking, budget=2000,
    example=lambda: JudgeRankVars(
        persona=s.PERSONA, question="Give an introduction of yourself.",
        answers=[{"label": "A", "text": "I run the pharmacy and love my family.", "evidence": 3},
                 {"label": "B", "text": "I am a person.", "evidence": 0}]))
