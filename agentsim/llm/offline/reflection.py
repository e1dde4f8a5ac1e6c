"""Reflection from the structure of memories: who they are about, which events, what kind.

reflect_questions, in this order: the person most often in `about` (not me), the most
important event, the most frequent kind of memory, my work, then the next person and event,
then general questions, until n.

reflect_insights: one insight per person (how often we met or talked) and per event (what it
is, whether people talk about it, whether I mean to go), those the question names first, then
by the importance of their evidence; filled up with "it matters to me that <memory>" from the
most important memories not cited yet. Evidence only ever cites the given memory ids.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from agentsim.contracts import ReflectInsightsVars, ReflectQuestionsVars
from agentsim.llm.offline.events import attendance, event_date, event_key, event_where
from agentsim.llm.offline.people import my_name, persona, same_person
from agentsim.llm.offline.wording import bare, inner, the_title

KIND_QUESTIONS = {
    "chat": "Who have I been talking with lately, and about what?",
    "observation": "What have I been noticing around me lately?",
    "plan": "Am I keeping to my plans, and are they the right ones?",
    "reading": "What have I been reading about, and why does it matter to me?",
    "reflection": "What have I learned about myself lately?",
}
GENERAL = [
    "What matters most to me right now?",
    "What have I been spending my days on?",
    "Who are the people I see most often?",
    "What am I looking forward to?",
    "What would I like to change about my days?",
]


def _memories(v: ReflectQuestionsVars | ReflectInsightsVars) -> list[Mapping[str, Any]]:
    return [m for m in v.memories or [] if isinstance(m.get("id"), int)]


def _people(v: ReflectQuestionsVars | ReflectInsightsVars,
            memories: list[Mapping[str, Any]]) -> list[str]:
    """People in `about`, most often first (ties: first seen first), without me."""
    me = my_name(v)
    counts: Counter[str] = Counter()
    for m in memories:
        for name in dict.fromkeys(m.get("about") or []):
            if name and not same_person(name, me):
                counts[name] += 1
    return [name for name, _ in counts.most_common()]


def _events(memories: list[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    """Distinct events, most important (highest memory importance) first."""
    best: dict[tuple[str, str], list[Any]] = {}  # key -> [importance, first seen, event]
    for i, m in enumerate(memories):
        ev = m.get("event")
        if not isinstance(ev, Mapping) or not ev.get("title"):
            continue
        k, score = event_key(ev), int(m.get("importance") or 0)
        if k not in best:
            best[k] = [score, i, ev]
        elif score > best[k][0]:
            best[k][0] = score
    ranked = sorted(best.values(), key=lambda t: (-t[0], t[1]))
    return [t[2] for t in ranked]


def _with_article(occupation: str) -> str:
    occ = bare(occupation)
    if not occ or occ.lower().startswith(("a ", "an ", "the ")):
        return occ
    if occ[:1].isupper() and occ[1:2].islower():
        occ = occ[0].lower() + occ[1:]
    return ("an " if occ[:1].lower() in "aeiou" else "a ") + occ


def reflect_questions(v: ReflectQuestionsVars, seed: int) -> dict:
    n = max(1, min(5, int(v.n or 3)))
    memories = _memories(v)
    people, events = _people(v, memories), _events(memories)
    kinds = Counter(str(m.get("kind", "")) for m in memories)
    first: list[str] = []
    second: list[str] = []
    if people:
        first.append(f"What is my relationship with {people[0]} like?")
    if events:
        first.append(f"What does {the_title(str(events[0]['title']))} mean for me?")
    for kind, _ in kinds.most_common():
        if kind in KIND_QUESTIONS:
            first.append(KIND_QUESTIONS[kind])
            break
    occupation = str(persona(v).get("occupation") or "")
    if occupation:
        first.append(f"How is my work as {_with_article(occupation)} going?")
    second += [f"What is my relationship with {p} like?" for p in people[1:3]]
    second += [f"What does {the_title(str(e['title']))} mean for me?" for e in events[1:3]]
    questions = list(dict.fromkeys(first + second + GENERAL))
    return {"questions": questions[:n]}


@dataclass(frozen=True)
class _Candidate:
    text: str
    evidence: list[int]
    named: bool  # the question mentions its person or event
    weight: int  # summed importance of the evidence
    order: int


def _person_insight(name: str, ms: list[Mapping[str, Any]]) -> str:
    chats = sum(1 for m in ms if m.get("kind") == "chat")
    if chats >= 2:
        return f"I keep running into {name}; we have talked {chats} times."
    if chats == 1:
        return f"I talked with {name} recently, and they are on my mind."
    if len(ms) >= 2:
        return f"I keep noticing {name}; they come up in {len(ms)} of my memories."
    return f"{name} is someone I have noticed lately."


def _event_insight(v: ReflectInsightsVars, ev: Mapping[str, Any], ms: list[Mapping[str, Any]],
                   seed: int) -> str:
    what = f"{the_title(str(ev['title']))} at {event_where(ev)}"
    day = event_date(ev)
    what += f" on {day}" if day else ""
    role = attendance(v, ev, seed)
    if role == "host":
        role = str(ev.get("host_role") or "hosting")
        return f"I am {role} {what}, and I want people to come."
    heard = any(m.get("source") or m.get("kind") == "chat" for m in ms)
    text = (f"{what[0].upper()}{what[1:]} is something people are talking about" if heard
            else f"I know that {what} is happening")
    return text + ("; I would like to go." if role else "; I am not sure I will go.")


def reflect_insights(v: ReflectInsightsVars, seed: int) -> dict:
    n = max(1, min(5, int(v.n or 2)))
    memories = _memories(v)
    if not memories:
        return {"insights": [{"text": "I don't have much to go on yet.", "evidence": []}]}
    question = str(v.question).lower()

    def weight(ms: list[Mapping[str, Any]]) -> int:
        return sum(int(m.get("importance") or 0) for m in ms)

    found: list[_Candidate] = []
    for name in _people(v, memories):
        ms = [m for m in memories if name in (m.get("about") or [])]
        found.append(_Candidate(_person_insight(name, ms), [m["id"] for m in ms],
                                name.lower() in question or name.split()[0].lower() in question,
                                weight(ms), len(found)))
    for ev in _events(memories):
        ms = [m for m in memories
              if isinstance(m.get("event"), Mapping) and event_key(m["event"]) == event_key(ev)]
        found.append(_Candidate(_event_insight(v, ev, ms, seed), [m["id"] for m in ms],
                                str(ev["title"]).lower() in question, weight(ms), len(found)))
    found.sort(key=lambda c: (not c.named, -c.weight, c.order))
    insights = [{"text": c.text, "evidence": c.evidence} for c in found[:n]]

    cited = {i for ins in insights for i in ins["evidence"]}
    rest = sorted((m for m in memories if m["id"] not in cited),
                  key=lambda m: -int(m.get("importance") or 0))
    for m in rest[: max(0, min(2, n - len(insights)))]:
        insights.append({"text": f"It matters to me that {inner(str(m.get('text', '')))}.",
                         "evidence": [m["id"]]})
    return {"insights": insights[:n]}
