"""The offline mind's critic and reviser of a turn of dialogue (`dialogue_critique`,
`dialogue_refine`): the critic goes by the problems the checks found; the reviser fixes what
the feedback names (an id it was not given is dropped, a repeat or an empty line becomes a
goodbye, a long line is cut to two sentences)."""

from __future__ import annotations

import re

from agentsim.contracts import DialogueCritiqueVars, DialogueRefineVars
from agentsim.llm.offline.people import first_name

_SENTENCE = re.compile(r"(?<=[.!?])\s+")


def dialogue_critique(v: DialogueCritiqueVars, seed: int) -> dict:
    problems = [str(p) for p in v.problems or []]
    if not problems:
        return {"score": 1.0, "satisfied": True, "failed": [], "critique": ""}
    failed = ["moves on"] if any("repeat" in p or "says nothing" in p for p in problems) else []
    return {"score": 0.4, "satisfied": False, "failed": failed,
            "critique": "fix this: " + "; ".join(problems)}


def dialogue_refine(v: DialogueRefineVars, seed: int) -> dict:
    history = v.history or []
    last = dict((history[-1] if history else {}).get("turn") or {})
    critique = " ".join(str((h.get("feedback") or {}).get("critique", "")) for h in history)
    turn = {"utterance": str(last.get("utterance") or ""),
            "shares_memory_id": last.get("shares_memory_id"),
            "end_conversation": bool(last.get("end_conversation")),
            "cites": last.get("cites")}
    if "not one of the memories" in critique:
        turn["shares_memory_id"] = None
    if "not the passage" in critique:
        turn["cites"] = None
    if "too long" in critique:
        turn["utterance"] = " ".join(_SENTENCE.split(turn["utterance"])[:2])
    if "repeats" in critique or "says nothing" in critique or not turn["utterance"].strip():
        other = first_name(str((v.other or {}).get("name") or "")) or "you"
        said = [str(t.get("text", "")) for t in v.transcript or []]
        bye = f"Anyway, I should get back to it. Good to see you, {other}!"
        if said and said[-1].startswith("Anyway,"):  # they said goodbye: answer it
            bye = f"Take care, {other}. See you around!"
        turn.update(utterance=bye, shares_memory_id=None, cites=None, end_conversation=True)
    return turn
