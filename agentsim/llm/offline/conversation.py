"""Talking turn by turn, and remembering the conversation afterwards.

converse_turn (what is said comes from what the speaker retrieved for this partner and what
was just said, `v.memories`; nothing tells it what to pass on):
- turn 0 greets the other by first name; later turns first answer what the other just said:
  an event it tells of -> "that sounds nice, thanks for telling me" (no promise: whether I go
  is decided when I plan, `events.attendance`); something it read -> "I didn't know that"; a
  question -> a short answer; thanks -> you're welcome; else a nod.
- then, by a stable coin with p = TOPIC_P keyed on (seed, me, them, time, turn), I bring up the
  first retrieved memory I can put into words and have not said in this conversation (see
  `_mention`: an event I know of, an event someone told me of, retold in one level as
  "Tom told me that ..."; a whisper or world event; something I read; a thought of mine).
  Personal lines someone said to me and my plans are not retold. Without a topic: small talk
  (turn 0, or when the other brought nothing up), or a line of a passage I have read that
  bears on the other's last turn (`fact`).
- the conversation ends at the last allowed turn, or from turn 2 on when neither of us
  brought anything up in the last two lines.

conversation_memory: a summary naming the topics (events told of, passages quoted, or "how
our days are going"), a relationship line that is warmer when something was told, and a
closeness change of 0.05 + 0.025 per topic (at most 0.1).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from agentsim.contracts import ConversationMemoryVars, ConverseTurnVars, ReactVars
from agentsim.llm.offline.clock import to_min
from agentsim.llm.offline.coins import coin, pick
from agentsim.llm.offline.events import event_when, event_where
from agentsim.llm.offline.hearsay import events_in, said_by
from agentsim.llm.offline.importance import score
from agentsim.llm.offline.knowledge import best_line, clip, short_title
from agentsim.llm.offline.people import asleep, first_name, my_name, same_person
from agentsim.llm.offline.wording import (
    a_title,
    bare,
    first_person,
    inner,
    join_words,
    sentence,
    the_title,
)


def _greeting(first: str, now: str, seed: int, key: tuple) -> str:
    t = to_min(now, 12 * 60)
    part = "morning" if t < 12 * 60 else "afternoon" if t < 18 * 60 else "evening"
    return pick([f"Hi {first}!", f"Hey {first}!", f"Good {part}, {first}!"], seed, "greet", *key)


def _event_news(ev: Mapping[str, Any], me: str, them: str, later: bool) -> str:
    title, where, when = str(ev.get("title", "something")), event_where(ev), event_when(ev)
    host, role = ev.get("host"), str(ev.get("host_role") or "hosting")
    if same_person(host, me):
        lead = "By the way, I'm" if later else "I'm"
        ask = "would you like to come?" if role == "hosting" else "I hope to see you there."
        return f"{lead} {role} {a_title(title)} at {where} {when}, {ask}"
    lead = "Oh, and have you heard?" if later else "Have you heard?"
    if same_person(host, them):
        return f"{lead} I heard you're {role} {a_title(title)} at {where} {when}!"
    if host:
        return f"{lead} {host} is {role} {a_title(title)} at {where} {when}."
    return f"{lead} There's {a_title(title)} at {where} {when}."


TOPIC_P = 0.6  # chance I bring up a topic (a retrieved memory) in a turn
# how a topic is led in: what follows it is the topic itself (said once per conversation)
_LEAD = re.compile(r"^(By the way, |Oh, and (have you heard|did you hear)\? |"
                   r"(Have you heard|Did you hear)\? )")


def _hearsay_event(ev: Mapping[str, Any], who: str, me: str, them: str) -> str:
    """An event someone told me of, retold in one level."""
    title, where, when = str(ev["title"]), event_where(ev), event_when(ev)
    host = ev.get("host")
    if same_person(host, them):
        return f"{first_name(who)} told me you're hosting {a_title(title)} at {where} {when}!"
    if same_person(host, me):
        return f"I'm hosting {a_title(title)} at {where} {when}, would you like to come?"
    if host and not same_person(host, who):
        return f"{who} told me that {host} is hosting {a_title(title)} at {where} {when}."
    if host:
        return f"{who} is hosting {a_title(title)} at {where} {when}, I heard."
    return f"{who} told me there's {a_title(title)} at {where} {when}."


def _names(text: str, them: str) -> bool:
    """Whether `text` names `them`, by full or first name: a thought about someone is not
    told to that someone as news ("I was just thinking that Eddy ..." to Eddy)."""
    return bool(re.search(rf"\b({re.escape(them)}|{re.escape(first_name(them))})\b", text,
                          re.IGNORECASE))


def _mention(m: Mapping[str, Any], me: str, them: str, later: bool) -> str | None:
    """A retrieved memory put into words for `them`, or None if it is not something I would
    bring up (see the module rules)."""
    text = str(m.get("text", "")).strip()
    kind = str(m.get("kind", ""))
    ev = m.get("event")
    if isinstance(ev, Mapping) and ev.get("title"):
        if same_person(ev.get("host"), them):
            return None  # their own event: nothing to tell them
        return _event_news(ev, me, them, later)
    who, said = said_by(text)
    if who is not None:
        if same_person(who, them):
            return None
        found = events_in(said, None, 2000, speaker=who)
        return _hearsay_event(found[0], who, me, them) if found else None
    if not text or _names(text, them) or kind in ("plan", "chat"):
        return None
    if m.get("source") == "relationship":
        return None  # whom I know (a seed memory) is not news to bring up
    lead = "Oh, and did you hear?" if later else "Did you hear?"
    if m.get("source") in ("whisper", "world"):
        return f"{lead} {sentence(text)}"
    if kind == "reading":
        return _reading(text)
    if first_person(text):
        return f"By the way, {bare(text)}."
    if kind == "reflection":
        return f"I was just thinking that {inner(text)}."
    return None


_READ = re.compile(r"^I read in (?P<doc>.+?)(?: › [^:]*)?: (?P<body>.*)$", re.DOTALL)


def _reading(text: str) -> str:
    """'I read in Gazette › Around town: The pond is closed. ...' -> 'I read in Gazette that
    the pond is closed.' (its first sentence)."""
    m = _READ.match(text)
    if not m:
        return f"I read that {inner(text)}."
    first = re.split(r"(?<=[.!?])\s", m["body"].strip(), maxsplit=1)[0]
    return f"I read in {m['doc']} that {inner(first)}."


def _tells(text: str) -> bool:
    """Whether a line brings something up (an event, hearsay, a quote), not just chat."""
    low = text.lower()
    return bool(events_in(text, None, 2000)) or any(
        w in low for w in ("told me", "did you hear", "have you heard", "i read", " says:"))


_PRONOUNS = {"her": "your", "his": "your", "their": "your", "herself": "yourself",
             "himself": "yourself"}
_DOUBLE = {"sit", "get", "run", "shop", "chat", "jog", "plan", "swim", "put", "set", "stop"}


def _gerund(activity: str) -> str:
    """'work on her novel' -> 'working on your novel' (said to the person doing it)."""
    words = bare(activity).split()
    if not words:
        return ""
    verb = words[0].lower()
    if not verb.endswith("ing"):
        if verb in _DOUBLE:
            verb = verb + verb[-1] + "ing"
        elif verb.endswith("e") and not verb.endswith(("ee", "ye", "oe")):
            verb = verb[:-1] + "ing"
        else:
            verb += "ing"
    rest = [_PRONOUNS.get(w.lower(), w) for w in words[1:]]
    return " ".join([verb, *rest])


def _small_talk(v: ConverseTurnVars, them: str, seed: int, key: tuple) -> str:
    first = first_name(them)
    place = f" at {v.place_name}" if v.place_name else ""  # (a reaction's opening: no place)
    options = [f"How is your day going, {first}?", f"It's nice to run into you{place}."]
    activity = str((v.other or {}).get("activity") or "")
    if activity and not asleep(activity):
        options.append(f"I see you're {_gerund(activity)}. How is that going?")
    for m in v.memories or []:
        text = str(m.get("text", ""))
        if text and not _names(text, them) and str(m.get("kind")) not in (
                "chat", "plan", "reading") and said_by(text)[0] is None \
                and m.get("source") != "relationship":
            if first_person(text):
                options.append(f"By the way, {bare(text)}.")
            else:
                options.append(f"I was just thinking that {inner(text)}.")
            break
    return pick(options, seed, "small talk", *key)


def _answer_to(last: Mapping[str, Any], v: ConverseTurnVars, seed: int, key: tuple) -> str:
    """React to the other's last turn, from its words."""
    text = str(last.get("text", ""))
    me = my_name(v)
    found = events_in(text, None, 2000)
    if found and same_person(found[0].get("host"), me):
        return pick(["Yes, I'd love to see you there!", "That's right, I hope you can come!"],
                    seed, "own event", *key)
    if found:
        return pick(["Oh, that sounds nice! Thanks for telling me.",
                     f"Really? I'll think about {the_title(found[0]['title'])}, thanks!"],
                    seed, "heard event", *key)
    if last.get("cites") or " says:" in text:
        return pick(["Oh, I didn't know that.", "Huh, good to know.", "Is that so? Interesting."],
                    seed, "learnt", *key)
    if _tells(text):
        return pick(["Really? Thanks for telling me.", "Oh, I hadn't heard that. Thanks!"],
                    seed, "thanks", *key)
    if text.rstrip().endswith("?"):
        return pick(["Pretty good, thanks for asking!", "Not bad at all, thanks.",
                     "Busy, but good!"], seed, "answer", *key)
    if "thank" in text.lower():
        return pick(["Of course!", "You're welcome!", "Any time."], seed, "welcome", *key)
    return pick(["That's nice.", "Oh, nice!", "Good to hear."], seed, "nod", *key)


def _fact_line(v: ConverseTurnVars, last: Mapping[str, Any] | None, seed: int,
               key: tuple) -> tuple[str, str] | None:
    """(an utterance quoting the passage, its id), when it bears on the other's last turn."""
    fact = v.fact
    if not isinstance(fact, Mapping) or not fact.get("id") or last is None:
        return None
    found = best_line(str(last.get("text", "")), [fact])
    if found is None:
        return None
    line = clip(found[1], 30)
    line = line if line[-1:] in ".!?" else line + "."
    lead = pick(["That reminds me,", "Speaking of which,", "Oh, and"], seed, "fact", *key)
    return f'{lead} {short_title(str(fact.get("title", "")))} says: "{line}"', str(fact["id"])


def _topic(v: ConverseTurnVars, me: str, them: str, said: str, later: bool,
           seed: int, key: tuple) -> tuple[str, int] | None:
    """(what I bring up, the memory id it draws on), by the TOPIC_P coin; see the rules."""
    if not coin(TOPIC_P, seed, "topic", *key):
        return None
    for m in v.memories or []:
        line = _mention(m, me, them, later)
        if line is not None and _LEAD.sub("", line)[:60] not in said:
            return line, int(m["id"])
    return None


def converse_turn(v: ConverseTurnVars, seed: int) -> dict:
    me = my_name(v)
    them = str((v.other or {}).get("name", "there"))
    first = first_name(them)
    transcript = list(v.transcript or [])
    turn = int(v.turn)
    max_turns = max(1, int(v.max_turns or 8))
    key = (me, them, v.now, turn)

    last = transcript[-1] if transcript else None
    from_other = last if last and not same_person(last.get("speaker"), me) else None
    said = " ".join(str(t.get("text", "")) for t in transcript)
    topic = _topic(v, me, them, said, turn > 0, seed, key)
    cited = _fact_line(v, from_other, seed, key) if topic is None else None
    quiet = [not _tells(str(t.get("text", ""))) and not t.get("cites")
             for t in transcript[-2:]]
    end = turn >= max_turns - 1 or (turn >= 2 and topic is None and cited is None
                                    and all(quiet))

    parts: list[str] = []
    if turn == 0 or from_other is None:
        parts.append(_greeting(first, str(v.now), seed, key))
    else:
        parts.append(_answer_to(from_other, v, seed, key))
    if topic is not None:
        parts.append(topic[0])
    elif cited is not None:
        parts.append(cited[0])
    elif not end and (turn == 0 or (quiet and quiet[-1])):
        parts.append(_small_talk(v, them, seed, key))
    if end:
        parts.append(pick([f"Anyway, I should get going. See you later, {first}!",
                           f"Well, it was good talking to you, {first}. Take care!",
                           f"I'd better get back to it. Bye, {first}!"], seed, "bye", *key))
    return {
        "utterance": " ".join(p for p in parts if p),
        "shares_memory_id": topic[1] if topic is not None else None,
        "end_conversation": end,
        "cites": cited[1] if cited is not None else None,
    }


def opening(v: ReactVars, seed: int) -> dict:
    """What I say first when my reaction starts a conversation: the first turn by the rules
    above, drawn from the memories the reaction retrieved (`react`)."""
    first = converse_turn(ConverseTurnVars(
        persona=v.persona, now=v.now, place_name="", other=v.other or {"name": "there"},
        relationship=v.relationship, closeness=v.closeness, memories=v.memories,
        transcript=[], turn=0, max_turns=2), seed)
    return {"opening": first["utterance"], "shares_memory_id": first["shares_memory_id"]}


# -- conversation_memory --------------------------------------------------------------------
def conversation_memory(v: ConversationMemoryVars, seed: int) -> dict:
    me = my_name(v)
    them = str(v.other)
    place = str(v.place_name or "town")
    topics: list[str] = []
    told_me = told_them = 0
    for entry in v.transcript or []:
        text = str(entry.get("text", ""))
        cites = entry.get("cites")
        found = [the_title(e["title"]) for e in events_in(text, None, 2000)]
        if isinstance(cites, Mapping) and cites.get("title"):
            found.append(f"what {short_title(str(cites['title']))} says")
        new = [t for t in found if t not in topics]
        topics += new
        if new and same_person(entry.get("speaker"), me):
            told_them += 1
        elif new:
            told_me += 1
    about = join_words(topics) if topics else "how our days are going"
    summary = f"I talked with {them} at {place} about {about}."
    if told_me and told_them:
        relationship = f"{them} and I keep each other up to date on what is going on in town."
    elif told_me:
        relationship = f"{them} keeps me in the loop; I like talking with them at {place}."
    elif told_them:
        relationship = f"{them} is someone I like to share news with at {place}."
    else:
        relationship = f"{them} is someone I chat with at {place}."
    change = min(0.1, 0.05 + 0.025 * len(topics))
    return {"summary": summary, "relationship": relationship,
            "closeness_change": round(change, 3), "importance": score(summary)}
