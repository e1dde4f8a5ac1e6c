"""The debate's answer checker: does an answer match the answer key?

    exact       the same text, but for surrounding spaces
    normalised  the same after `normalise_answer` (case, punctuation, articles, number
                formatting), against the answer or any of its aliases: the default
    llm         the `answer_judge` prompt, asked of the run's model (on the offline mind its
                rule is the normalised match, stated in `agentsim.llm.offline.debate`)

The judge reads the answer key; the debaters never do."""

from __future__ import annotations

from typing import Literal

from agentsim.contracts import ANSWER_JUDGE, AnswerJudgeVars
from agentsim.contracts.group import normalise_answer
from agentsim.llm.base import LLM

JudgeKind = Literal["exact", "normalised", "llm"]


async def judge(kind: JudgeKind, question: str, references: list[str], answer: str,
                llm: LLM) -> bool:
    """Whether `answer` matches one of `references` (the answer, then its aliases)."""
    if kind == "exact":
        return answer.strip() in {r.strip() for r in references}
    if kind == "normalised":
        return normalise_answer(answer) in {normalise_answer(r) for r in references}
    verdict = await ANSWER_JUDGE.ask(llm, AnswerJudgeVars(
        question=question, reference=" or ".join(references), answer=answer), agent=None)
    return verdict.correct
