"""Small text rules of the offline mind's sentences: event titles with their article, lists in
words, sentences and clauses, hearsay unwrapped, and the short topic of a piece of news.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any


def _possessive_title(title: str) -> bool:
    """'Isabella's party', "Sam Moore's campaign event": a name's thing takes no article.
    "Valentine's Day party" is not possessive (the word after the 's is capitalised)."""
    words = title.split()
    for i, w in enumerate(words[:-1]):
        if not w[:1].isupper():
            return False
        if w.endswith(("'s", "’s")):
            return words[i + 1][:1].islower()
    return False


def _has_article(title: str) -> bool:
    return title.lower().startswith(("the ", "a ", "an "))


def a_title(title: str) -> str:
    """'Valentine's Day party' -> "a Valentine's Day party"."""
    title = title.strip()
    if _has_article(title) or _possessive_title(title):
        return title
    return ("an " if title[:1].lower() in "aeiou" else "a ") + title


def the_title(title: str) -> str:
    """'Valentine's Day party' -> "the Valentine's Day party"."""
    title = title.strip()
    if _has_article(title) or _possessive_title(title):
        return title
    return "the " + title


def join_words(items: Sequence[str]) -> str:
    """['a', 'b', 'c'] -> 'a, b and c'."""
    items = [i for i in items if i]
    if len(items) <= 1:
        return "".join(items)
    return ", ".join(items[:-1]) + " and " + items[-1]


def sentence(text: str) -> str:
    """Trimmed, first letter up, ending in a full stop unless it already ends in punctuation."""
    text = " ".join(str(text).split())
    if not text:
        return text
    text = text[0].upper() + text[1:]
    return text if text[-1] in ".!?" else text + "."


def bare(text: str) -> str:
    """Trimmed, without a final full stop, for use inside a sentence."""
    return " ".join(str(text).split()).rstrip(".")


_COMMON_OPENERS = {"the", "a", "an", "there", "it", "this", "that", "someone", "everyone",
                   "people", "some", "my", "our", "his", "her", "their"}


def inner(text: str) -> str:
    """A clause to embed after 'that': lower-case the first word only if it is a common word,
    so names keep their capitals ('The cafe is busy' -> 'the cafe is busy')."""
    text = bare(text)
    first = text.split(" ", 1)[0]
    if first.lower() in _COMMON_OPENERS and first != "I":
        return first.lower() + text[len(first):]
    return text


_TOLD = re.compile(r"^(?P<who>.+?) told me: (?P<said>.*)$", re.DOTALL)
_LEADS = ("Did you hear? ", "Have you heard? ", "did you hear? ", "have you heard? ")


def unwrap_hearsay(text: str) -> tuple[str | None, str]:
    """'Tom told me: Hi Sam! Did you hear? The cafe closes early.' -> ('Tom', 'The cafe closes
    early.'): who told me, and the news itself without the greeting around it."""
    m = _TOLD.match(bare(text) + ".")
    if not m:
        return None, bare(text)
    said = m["said"]
    cut = max(said.rfind(lead) + len(lead) if lead in said else -1 for lead in _LEADS)
    if cut > 0:
        said = said[cut:]
    return m["who"].strip(), bare(said)


def first_person(text: str) -> bool:
    return bool(re.match(r"^(I|I'm|I've|I'd|I'll|My|Me|We|Our)\b", text.strip()))


def strip_phase(activity: str) -> tuple[str, str | None]:
    """'paint (continuing)' -> ('paint', 'continuing'): undo the offline hour-chunk labels."""
    m = re.match(r"^(.*?)\s*\((getting started|continuing|wrapping up)\)\s*$", activity.strip())
    if m:
        return m[1], m[2]
    return activity.strip(), None


# -- topics of news ------------------------------------------------------------------------
def topic(item: Mapping[str, Any]) -> str:
    """What a news item is about, short: 'the Valentine's Day party' or the news itself."""
    ev = item.get("event")
    if isinstance(ev, Mapping) and ev.get("title"):
        return the_title(str(ev["title"]))
    _, said = unwrap_hearsay(str(item.get("text", "")))
    said = re.split(r"[.,;(!?]", said, maxsplit=1)[0].strip()
    if len(said) > 80:
        said = said[:80].rsplit(" ", 1)[0] + "..."
    return f"the news that {inner(said)}" if said else "some news"


_TITLE_IN_UTTERANCE = re.compile(
    r"(?:hosting|organi[sz]ing|running in|there's|there is|have you heard about) "
    r"(?:a |an |the )?(.+?) at ", re.IGNORECASE
)


def shared_topic(entry: Mapping[str, Any]) -> str:
    """The topic of what a transcript entry shared (its `event` may be a dict or a flag)."""
    shared = entry.get("shared") or {}
    ev = shared.get("event")
    if isinstance(ev, Mapping) and ev.get("title"):
        return the_title(str(ev["title"]))
    if ev:
        m = _TITLE_IN_UTTERANCE.search(str(entry.get("text", "")))
        if m:
            return the_title(m[1])
    return topic({"text": shared.get("text", "")})
