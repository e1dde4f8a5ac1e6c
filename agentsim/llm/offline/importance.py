"""Importance (poignancy) of observations from cues in their words.

Each observation gets the highest score among the cues it contains, +1 if it is something
told by someone else (hearsay travels because it mattered to the teller), clamped to 1..10.
An observation with no cue scores 2 if it reads "<someone> is <doing something>" and 3
otherwise.
"""

from __future__ import annotations

import functools
import re

from agentsim.contracts import ImportanceVars

# cue (regular expression on the lower-cased text) -> score
CUES: list[tuple[str, int]] = [
    # routine and mundane
    (r"\b(sleep\w*|asleep|nap\w*|idle|resting|brushing|making (the|her|his|my) bed)\b", 1),
    (r"\b(walk\w*|commut\w*|brew\w*|coffee|shower\w*|wash\w*|clean\w*|tidy\w*)\b", 2),
    (r"\b(eat\w*|breakfast|lunch|dinner|cook\w*|shopping|empty|quiet)\b", 2),
    (r"\b(work\w*|read\w*|writ\w*|paint\w*|study\w*|practic\w*|serv\w*|open\w*|clos\w*)\b", 3),
    # social
    (r"\b(talk\w*|chat\w*|convers\w*|greet\w*|said|says|asked|met|meet\w*)\b", 4),
    (r"\b(friend\w*|neighbou?r\w*|visit\w*|help\w*)\b", 4),
    # things that matter
    (r"\b(news|announce\w*|plan\w* (a|to)|gossip|rumou?r\w*)\b", 6),
    (r"\b(event|festival|concert|exhibit\w*|meeting|gathering|celebrat\w*)\b", 6),
    (r"\b(invit\w*|part(y|ies)|valentine\w*|birthday|anniversar\w*)\b", 7),
    (r"\b(job|hired|fired|promot\w*|interview\w*|quit\w*|business|money|rent)\b", 7),
    (r"\b(argu\w*|fight\w*|conflict\w*|angry|upset|quarrel\w*|worr\w*|sick|ill|hurt)\b", 7),
    (r"\b(elect\w*|mayor\w*|vote\w*|campaign\w*|running for)\b", 8),
    (r"\b(love|crush|(on a|first) date|dating|kiss\w*|romanc\w*|propos\w*)\b", 8),
    (r"\b(wedding|married|engaged)\b", 8),
    (r"\b(death|died|dies|dying|funeral|accident|fire|emergency|hospital)\b", 9),
    (r"\b(break(ing)? up|broke up|divorc\w*|pregnan\w*|accepted to|admitted to)\b", 9),
]
HEARSAY = r"\b(told me|heard|i heard it from|according to)\b"
ORDINARY = r"\b(is|are)\s+\w+ing\b"
HEARSAY_BONUS = 1

_CUES = [(re.compile(p), s) for p, s in CUES]
_HEARSAY = re.compile(HEARSAY)
_ORDINARY = re.compile(ORDINARY)


@functools.lru_cache(maxsize=65536)  # the same observations recur ("Ann Lee is sleeping")
def score(text: str) -> int:
    low = text.lower()
    found = [s for rx, s in _CUES if rx.search(low)]
    ordinary = 2 if _ORDINARY.search(low) else 3
    value = max(found) if found else ordinary
    if _HEARSAY.search(low):
        value += HEARSAY_BONUS
    return max(1, min(10, value))


def importance(v: ImportanceVars, seed: int) -> dict:
    return {"scores": [score(str(o)) for o in v.observations or []]}
