"""Answering a knowledge probe (`knows_about`: "Do you know about X?", "Do you know Tom?")
from the memories retrieved for it.

The rule is reading, not deciding: the answer is yes exactly when a memory given names the
topic by one of its aliases (`agentsim.contracts.knowing.memory_names`: the text, or the title
of the event it tells of), with those memories' ids as the evidence (at most five, best
first); otherwise no, with none. A memory the retrieval did not surface is not known, as in
the paper's interviews."""

from __future__ import annotations

from agentsim.contracts.knowing import KnowsAboutVars, memory_names
from agentsim.llm.offline.wording import sentence

EVIDENCE = 5


def knows_about(v: KnowsAboutVars, seed: int) -> dict:
    backing = [m for m in v.memories or [] if memory_names(m, v.aliases)]
    if not backing:
        return {"knows": False, "answer": f"No, I don't know anything about {v.topic}.",
                "evidence": []}
    text = str(backing[0].get("text", "")).strip()
    told = f" {sentence(text)}" if text else ""
    return {"knows": True, "answer": f"Yes, I know of {v.topic}.{told}",
            "evidence": [int(m["id"]) for m in backing[:EVIDENCE]]}
