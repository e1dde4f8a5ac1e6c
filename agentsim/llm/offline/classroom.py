"""The offline teacher: it reads from the lesson's sources. Its rule, stated: say the line of
the passages found for the topic that shares the most words with the topic and the last
thing a student said (`knowledge.best_line`), quoted as it is written, addressing that
student by first name; with no passage, it says it will come back to the topic. It does not
know which student is wrong or what the quiz asks."""

from __future__ import annotations

from agentsim.contracts.classroom import TeachTurnVars
from agentsim.llm.offline.knowledge import best_line, clip


def teach_turn(v: TeachTurnVars, seed: int) -> dict:
    last = v.heard[-1] if v.heard else None
    said = [h for h in v.heard if h["speaker"] in v.students]
    query = f"{v.topic} {said[-1]['text'] if said else ''}"
    found = best_line(query, list(v.passages), min_shared=1)
    if found is None:
        return {"text": f"Let's come back to {v.topic} next time."}
    _, line, _ = found
    line = clip(line).rstrip()
    line = line if line[-1:] in ".!?" else line + "."
    to = f"{last['speaker'].split()[0]}, " if last and last["speaker"] in v.students else ""
    first = line.split()[0]
    if to and first[1:] == first[1:].lower() and first != "I":
        line = line[0].lower() + line[1:]  # "Lena, there is gravity ..."
    return {"text": f"{to}{line[0].upper()}{line[1:]}" if not to else f"{to}{line}"}
