"""Answering an interview question from the memories retrieved for it (best first).

Up to three memories become sentences: an event is told with its title, place and time (as
the host, as hearsay, or as something I know of); a first-person memory is used as it is;
hearsay becomes "I heard from X that ..."; a reading "I read that ..."; anything else "I
noticed that ...". If none of the top three is about an event but a later one is, it takes
the third place. A single sentence gets a short closing one, so answers run 2-4 sentences.

The passages given are those the resident has read (its reading memories point to them).
When the question is about a fact one of them holds (a line of it shares at least two content
words with the question), the answer opens by quoting that line and cites the passage in
`sources`; then only memories that share a word with the question follow (at most two).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from agentsim.contracts import InterviewVars
from agentsim.llm.offline.events import event_key, event_when, event_where
from agentsim.llm.offline.knowledge import best_line, clip, short_title, words
from agentsim.llm.offline.people import my_name, same_person
from agentsim.llm.offline.wording import (
    a_title,
    first_person,
    inner,
    sentence,
    the_title,
    unwrap_hearsay,
)

TOP = 3


def _event_sentence(v: InterviewVars, m: Mapping[str, Any]) -> str:
    ev = m["event"]
    title, where, when = str(ev.get("title")), event_where(ev), event_when(ev)
    host, role = ev.get("host"), str(ev.get("host_role") or "hosting")
    if same_person(host, my_name(v)):
        return f"I'm {role} {a_title(title)} at {where} {when}."
    who = m.get("source") if m.get("kind") == "chat" else None
    heard = f"I heard from {who} that" if who else "I know that"
    if host:
        return f"{heard} {host} is {role} {a_title(title)} at {where} {when}."
    return f"{heard} {the_title(title)} is happening at {where} {when}."


def _sentence(v: InterviewVars, m: Mapping[str, Any]) -> str:
    if isinstance(m.get("event"), Mapping) and m["event"].get("title"):
        return _event_sentence(v, m)
    text = str(m.get("text", ""))
    who, said = unwrap_hearsay(text)
    if who:
        return f"I heard from {who} that {inner(said)}."
    if first_person(text):
        return sentence(text)
    if m.get("kind") == "reading":
        return f"I read that {inner(text)}."
    if m.get("source") and m.get("kind") == "chat":
        return f"I heard from {m['source']} that {inner(text)}."
    if "heard" in text.lower():
        return sentence(text)
    return f"I noticed that {inner(text)}."


def _cited(v: InterviewVars) -> tuple[str, str] | None:
    """(sentence quoting a passage, its id) when a passage answers the question."""
    found = best_line(str(v.question), list(v.passages or []))
    if found is None:
        return None
    passage, line, _ = found
    title = short_title(str(passage.get("title", "")))
    line = clip(line)
    line = line if line[-1:] in ".!?" else line + "."
    return f'{title[0].upper()}{title[1:]} says: "{line}"', str(passage["id"])


def interview(v: InterviewVars, seed: int) -> dict:
    memories = [m for m in v.memories or [] if m.get("text") or m.get("event")]
    cited = _cited(v)
    if cited is not None:
        return _cited_answer(v, memories, *cited)
    if not memories:
        return {"answer": "I don't know much about that.", "memory_ids": []}
    chosen = list(memories[:TOP])
    if not any(isinstance(m.get("event"), Mapping) for m in chosen):
        later = next((m for m in memories[TOP:] if isinstance(m.get("event"), Mapping)), None)
        if later is not None:
            chosen[-1 if len(chosen) == TOP else len(chosen):] = [later]
    sentences: list[str] = []
    ids: list[int] = []
    told_events: set[tuple[str, str]] = set()
    for m in chosen:
        ev = m.get("event")
        if isinstance(ev, Mapping):
            if event_key(ev) in told_events:
                ids.append(m["id"])  # same event again: it backs what I already said
                continue
            told_events.add(event_key(ev))
        s = _sentence(v, m)
        if s and s not in sentences:
            sentences.append(s)
        ids.append(m["id"])
    if len(sentences) < 2:
        sentences.append("That's about all I know.")
    return {"answer": " ".join(sentence(s) for s in sentences),
            "memory_ids": list(dict.fromkeys(ids))}


def _cited_answer(v: InterviewVars, memories: list, quote: str, source: str) -> dict:
    want = words(str(v.question))
    sentences, ids = [quote], []
    for m in memories:
        if len(ids) == TOP - 1:
            break
        if not want & words(m.get("text", "")):
            continue
        s = _sentence(v, m)
        if s and s not in sentences:
            sentences.append(s)
            ids.append(m["id"])
    if len(sentences) < 2:
        sentences.append("That's what I know about it.")
    return {"answer": " ".join([quote, *(sentence(s) for s in sentences[1:])]),
            "memory_ids": ids, "sources": [source]}
