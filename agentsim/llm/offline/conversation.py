"""Talking turn by turn, and remembering the conversation afterwards.

converse_turn: turn 0 greets the other by first name; later turns first answer what the other
just said (an event: accept, or decline with p=0.3 by the same coin planning uses; plain
news: thanks; thanks: you're welcome; a question: a short answer; else a nod). Then I pass
on my first untold news item (the caller lists the most important first and removes what was
told), or make small talk (about their activity, the place, a memory of mine, how the day
goes). The conversation ends at the last allowed turn, or from turn 2 on when I have nothing
left to tell and the other told me nothing in their last turn.

A document passage given as `fact` (what the town's documents say about what was just said):
when I have no news to pass on and a line of it shares two words with the other's last turn, I
quote that line and cite the passage ("That reminds me, the Smallville Gazette says: ...").

conversation_memory: a summary naming the topics (event titles, pieces of news, or "how our
days are going"), a relationship line that is warmer when news was exchanged, and a
closeness change of 0.05 + 0.025 per item shared (at most 0.1).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from agentsim.contracts import ConversationMemoryVars, ConverseTurnVars
from agentsim.llm.offline.common import (
    a_title,
    asleep,
    attendance,
    bare,
    event_when,
    event_where,
    first_name,
    first_person,
    inner,
    join_words,
    my_name,
    pick,
    same_person,
    sentence,
    shared_topic,
    to_min,
    unwrap_hearsay,
)
from agentsim.llm.offline.knowledge import best_line, clip, short_title


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


def _plain_news(text: str, them: str, later: bool) -> str:
    lead = "Oh, and did you hear?" if later else "Did you hear?"
    who, said = unwrap_hearsay(text)
    if same_person(who, them):
        return f"Like you told me, {inner(said)}."
    if who:
        return f"{lead} {who} told me: {sentence(said)}"
    return f"{lead} {sentence(said)}"


def _news_line(item: Mapping[str, Any], me: str, them: str, later: bool) -> str:
    ev = item.get("event")
    if isinstance(ev, Mapping) and ev.get("title"):
        return _event_news(ev, me, them, later)
    return _plain_news(str(item.get("text", "")), them, later)


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
    place = str(v.place_name or "here")
    options = [f"How is your day going, {first}?", f"It's nice to run into you at {place}."]
    activity = str((v.other or {}).get("activity") or "")
    if activity and not asleep(activity):
        options.append(f"I see you're {_gerund(activity)}. How is that going?")
    for m in v.memories or []:
        text = str(m.get("text", ""))
        if text and them.lower() not in text.lower() and "told me" not in text:
            if first_person(text):
                options.append(f"By the way, {bare(text)}.")
            else:
                options.append(f"I was just thinking that {inner(text)}.")
            break
    return pick(options, seed, "small talk", *key)


def _answer_to(last: Mapping[str, Any], v: ConverseTurnVars, seed: int, key: tuple) -> str:
    """React to the other's last turn."""
    shared = last.get("shared")
    text = str(last.get("text", ""))
    if shared:
        ev = shared.get("event")
        if isinstance(ev, Mapping):
            going = attendance(v, ev, seed) is not None
        elif ev:
            going = attendance(v, {"title": shared_topic(last)}, seed) is not None
        else:
            return pick(["Really? Thanks for telling me.", "Oh, I hadn't heard that. Thanks!"],
                        seed, "thanks", *key)
        if going:
            return "That sounds lovely, I'll try to come!"
        return "Thanks for letting me know, but I don't think I can make it."
    if last.get("cites"):
        return pick(["Oh, I didn't know that.", "Huh, good to know.", "Is that so? Interesting."],
                    seed, "learnt", *key)
    if "make it" in text.lower():
        return pick(["No worries, maybe next time!", "That's a shame. Maybe next time!"],
                    seed, "next time", *key)
    if "thank" in text.lower():
        return pick(["Of course!", "You're welcome!", "Any time."], seed, "welcome", *key)
    if text.rstrip().endswith("?"):
        return pick(["Pretty good, thanks for asking!", "Not bad at all, thanks.",
                     "Busy, but good!"], seed, "answer", *key)
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


def converse_turn(v: ConverseTurnVars, seed: int) -> dict:
    me = my_name(v)
    them = str((v.other or {}).get("name", "there"))
    first = first_name(them)
    news = list(v.news or [])
    transcript = list(v.transcript or [])
    turn = int(v.turn)
    max_turns = max(1, int(v.max_turns or 8))
    key = (me, them, v.now, turn)

    last = transcript[-1] if transcript else None
    from_other = last if last and not same_person(last.get("speaker"), me) else None
    share = news[0] if news else None

    cited = _fact_line(v, from_other, seed, key) if share is None else None
    other_quiet = from_other is not None and not from_other.get("shared") \
        and not from_other.get("cites")
    end = turn >= max_turns - 1 or (turn >= 2 and share is None and cited is None and other_quiet)

    parts: list[str] = []
    if turn == 0 or from_other is None:
        parts.append(_greeting(first, str(v.now), seed, key))
    else:
        parts.append(_answer_to(from_other, v, seed, key))
    if share is not None:
        parts.append(_news_line(share, me, them, later=turn > 0))
    elif cited is not None:
        parts.append(cited[0])
    elif not end and (turn == 0 or other_quiet):
        parts.append(_small_talk(v, them, seed, key))
    if end:
        parts.append(pick([f"Anyway, I should get going. See you later, {first}!",
                           f"Well, it was good talking to you, {first}. Take care!",
                           f"I'd better get back to it. Bye, {first}!"], seed, "bye", *key))
    return {
        "utterance": " ".join(p for p in parts if p),
        "shares_memory_id": share.get("id") if share is not None else None,
        "end_conversation": end,
        "cites": cited[1] if cited is not None else None,
    }


# -- conversation_memory --------------------------------------------------------------------
def conversation_memory(v: ConversationMemoryVars, seed: int) -> dict:
    me = my_name(v)
    them = str(v.other)
    place = str(v.place_name or "town")
    transcript = list(v.transcript or [])
    topics: list[str] = []
    told_me = told_them = 0
    for entry in transcript:
        cites = entry.get("cites")
        if isinstance(cites, Mapping) and cites.get("title"):
            about_doc = f"what {short_title(str(cites['title']))} says"
            if about_doc not in topics:
                topics.append(about_doc)
        if not entry.get("shared"):
            continue
        topic = shared_topic(entry)
        if topic and topic not in topics:
            topics.append(topic)
        if same_person(entry.get("speaker"), me):
            told_them += 1
        else:
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
    change = min(0.1, 0.05 + 0.025 * (told_me + told_them))
    return {"summary": summary, "relationship": relationship,
            "closeness_change": round(change, 3)}
