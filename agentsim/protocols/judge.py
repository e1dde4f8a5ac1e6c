"""The debate's answer checker: does an answer match the answer key?

    exact       the same text, but for surrounding spaces
    normalised  the same after `normalise_answer` (case, punctuation, articles, number
                formatting), against the answer or any of its aliases: the default
    llm         the `answer_judge` prompt, asked of the run's model (on the offline mind its
                rule is the normalised match, stated in `agentsim.llm.offline.debate`)

The judge reads the answer key; the debaters never do. A verdict says who gave it (`by`):
`rule` for exact and normalised, else the LLM verdict's origin (a verdict the offline mind
gave as a fallback is marked `fallback`, not passed off as the model's)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from agentsim.contracts import ANSWER_JUDGE, AnswerJudgeVars
from agentsim.contracts.group import normalise_answer
from agentsim.llm.base import LLM

JudgeKind = Literal["exact", "normalised", "llm"]
RULE = "rule"  # the verdict of a rule, not of an LLM


@dataclass(frozen=True)
class Judged:
    """A verdict: whether the answer is right, and who said so (`rule`, or an origin)."""

    correct: bool
    by: str


async def judge(kind: JudgeKind, question: str, references: list[str], answer: str,
                llm: LLM) -> Judged:
    """Whether `answer` matches one of `references` (the answer, then its aliases)."""
    if kind == "exact":
        return Judged(answer.strip() in {r.strip() for r in references}, RULE)
    if kind == "normalised":
        return Judged(normalise_answer(answer) in {normalise_answer(r) for r in references},
                      RULE)
    verdict = await ANSWER_JUDGE.answer(llm, AnswerJudgeVars(
        question=question, reference=" or ".join(references), answer=answer), agent=None)
    return Judged(verdict.value.correct, verdict.origin)
