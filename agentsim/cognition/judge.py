"""A judge ranks anonymised answers to one interview question by believability: the paper's
human evaluators, played by an LLM (Park et al. 2023 Sec. 6.2), for `agentsim evaluate`.

The answers come labelled A, B, C, ... in an order the caller shuffles, so the judge never
sees which condition gave which. Each answer may carry `evidence` (how many memories it drew
on): the template does not show it to a model, and the offline mind ranks by it (a stated
rule; see `agentsim.llm.offline.judge`)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from agentsim.contracts import JUDGE_RANK, JudgeRankVars
from agentsim.llm.base import LLM

LABELS = "ABCDEFGH"


@dataclass(frozen=True)
class Candidate:
    """One answer put before the judge."""

    text: str
    evidence: int = 0  # memories the answer drew on (hidden from a model judge)


async def judge_rank(llm: LLM, persona: Mapping[str, Any], question: str,
                     candidates: Sequence[Candidate], *, agent: str | None = None) -> list[int]:
    """The candidates' indices, most believable first. Labels the judge leaves out follow
    in their given order; unknown and repeated labels are ignored."""
    if len(candidates) > len(LABELS):
        raise ValueError(f"at most {len(LABELS)} answers can be ranked at once")
    labels = LABELS[:len(candidates)]
    out = await JUDGE_RANK.ask(llm, JudgeRankVars(
        persona=dict(persona),
        question=question,
        answers=[{"label": lab, "text": c.text, "evidence": c.evidence}
                 for lab, c in zip(labels, candidates, strict=True)],
    ), agent=agent)
    given = [labels.index(x) for x in dict.fromkeys(out.ranking) if x in labels]
    return given + [i for i in range(len(candidates)) if i not in given]
