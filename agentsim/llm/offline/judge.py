"""Ranking interview answers (`judge_rank`) by a stated rule: a baseline, not a judgement.

The offline mind cannot tell which answer is more believable; it ranks by evidence instead:
the answer that drew on more memories first, then the one with more distinct words (more
specific), then by label (the caller shuffles the labels, so a full tie falls by the seed of
the evaluation). Whatever TrueSkill ratings come of this measure how much each condition's
answers drew on memory, and say nothing about believability."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from agentsim.contracts import JudgeRankVars

_WORD = re.compile(r"[a-z']+")

RULE = "most memories drawn on, then most distinct words, then label"


def judge_rank(v: JudgeRankVars, seed: int) -> dict:
    answers = list(v.answers)

    def key(a: Mapping[str, Any]) -> tuple[int, int, str]:
        words = set(_WORD.findall(str(a.get("text", "")).lower()))
        return (-int(a.get("evidence") or 0), -len(words), str(a.get("label")))

    ranked = [str(a["label"]) for a in sorted(answers, key=key)]
    return {"ranking": ranked, "reason": f"rule baseline: {RULE}"}
