"""Helpers shared by the offline mind's modules: stable coins, clock arithmetic, small text rules.

Nothing here is random in the usual sense. A "coin" is a stable hash (blake2b) of the run seed
and the identifying parts of a decision (who decides, about whom or what), so the same request
always gets the same answer while different agents answer differently.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping, Sequence
from datetime import date
from typing import Any, Protocol, TypeVar

T = TypeVar("T")

DAY_MINUTES = 24 * 60
# Whether a guest goes to an event it knows of: a stable coin whose chance is stated here and
# depends on the persona, on how the agent heard of it and on what else it has to do then.
ATTEND_BASE = 0.35
ATTEND_INVITED = 0.25  # heard it from the host in person (or was seeded knowing it)
ATTEND_SOCIABLE = 0.15  # innate traits or background read as sociable
ATTEND_RESERVED = -0.15  # ... or as reserved
ATTEND_BUSY = -0.2  # the plan has work during the event
ATTEND_MIN, ATTEND_MAX = 0.05, 0.9
_SOCIABLE = re.compile(r"\b(friendly|outgoing|sociable|social|warm|cheerful|kind|curious|"
                       r"generous|talkative|caring|people)\b", re.IGNORECASE)
_RESERVED = re.compile(r"\b(shy|reserved|quiet|introvert\w*|private|solitary|grumpy|"
                       r"aloof|anxious)\b", re.IGNORECASE)
WORK = re.compile(r"\b(work\w*|shift|serv\w*|teach\w*|class\w*|lectur\w*|open\w* the|"
                  r"run\w* the|manag\w*|study\w*|shop keep\w*)\b", re.IGNORECASE)


# -- stable coins -----------------------------------------------------------------------------
def unit(seed: int, *key: Any) -> float:
    """A stable number in [0, 1) for (seed, key...)."""
    blob = json.dumps([seed, *key], ensure_ascii=False, sort_keys=True,
                      default=str).encode("utf-8", "surrogatepass")
    digest = hashlib.blake2b(blob, digest_size=8).digest()
    return int.from_bytes(digest, "big") / 2**64


def coin(p: float, seed: int, *key: Any) -> bool:
    """True with probability `p`, stably for the same (seed, key...)."""
    return unit(seed, *key) < p


def pick(options: Sequence[T], seed: int, *key: Any) -> T:
    """One of `options`, stably for the same (seed, key...)."""
    return options[int(unit(seed, *key) * len(options))]


# -- clock --------------------------------------------------------------------------------------
def to_min(hhmm: str | None, default: int = 0) -> int:
    """'07:30' -> 450. Anything unreadable gives `default`."""
    try:
        h, m = str(hhmm).strip().split(":")[:2]
        return int(h) * 60 + int(m)
    except (ValueError, AttributeError):
        return default


def to_hhmm(minutes: int) -> str:
    minutes = max(0, min(DAY_MINUTES - 1, int(minutes)))
    return f"{minutes // 60:02d}:{minutes % 60:02d}"


# -- people -------------------------------------------------------------------------------------
class HasPersona(Protocol):
    """The variables of any template that shows the persona (most of them)."""

    @property
    def persona(self) -> Mapping[str, Any]: ...


def persona(v: HasPersona) -> Mapping[str, Any]:
    return v.persona or {}


def my_name(v: HasPersona) -> str:
    return str(persona(v).get("name") or "")


def first_name(name: str) -> str:
    return name.split()[0] if name and name.split() else name


def same_person(a: Any, b: Any) -> bool:
    return bool(a) and bool(b) and str(a).strip().casefold() == str(b).strip().casefold()


_SLEEP = re.compile(r"\b(sleep\w*|asleep|nap|napping)\b", re.IGNORECASE)


def asleep(activity: str | None) -> bool:
    return bool(activity) and bool(_SLEEP.search(activity or ""))


# -- events -------------------------------------------------------------------------------------
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


def event_date(ev: Mapping[str, Any]) -> str:
    """'February 14', from the event's `date` or its `date_iso`."""
    if ev.get("date"):
        return str(ev["date"])
    try:
        d = date.fromisoformat(str(ev.get("date_iso")))
    except ValueError:
        return ""
    return f"{d:%B} {d.day}"


def event_when(ev: Mapping[str, Any]) -> str:
    """'on February 14 from 17:00 to 19:00'."""
    day = event_date(ev)
    on = f"on {day} " if day else ""
    return f"{on}from {ev.get('start', '?')} to {ev.get('end', '?')}"


def event_where(ev: Mapping[str, Any]) -> str:
    return str(ev.get("place_name") or ev.get("place") or "somewhere in town")


def event_key(ev: Mapping[str, Any]) -> tuple[str, str]:
    return (str(ev.get("title", "")).strip().casefold(), str(ev.get("date_iso", "")))


def busy_during(v: Any, ev: Mapping[str, Any]) -> bool:
    """Whether the plan at hand (`remaining` of a replan, else the `routine`) has work (the
    WORK words) running at the event's start or starting while it runs."""
    entries = getattr(v, "remaining", None) or getattr(v, "routine", None) or []
    start, end = to_min(ev.get("start"), 0), to_min(ev.get("end"), 0)
    entries = sorted(entries, key=lambda r: to_min(r.get("start")))
    running = [r for r in entries if to_min(r.get("start")) <= start][-1:]
    during = [r for r in entries if start < to_min(r.get("start")) < end]
    return any(WORK.search(str(r.get("activity", ""))) for r in [*running, *during])


def attend_chance(v: Any, ev: Mapping[str, Any]) -> float:
    """The chance a guest goes (see the ATTEND_* constants): persona, invitation, conflict."""
    p = persona(v)
    traits = " ".join([*map(str, p.get("innate") or []), str(p.get("background") or "")])
    invited = same_person(ev.get("heard_from"), ev.get("host"))
    chance = ATTEND_BASE + ATTEND_INVITED * invited + ATTEND_BUSY * busy_during(v, ev)
    chance += ATTEND_SOCIABLE * bool(_SOCIABLE.search(traits))
    chance += ATTEND_RESERVED * bool(_RESERVED.search(traits))
    return max(ATTEND_MIN, min(ATTEND_MAX, chance))


def attendance(v: HasPersona, ev: Mapping[str, Any], seed: int) -> str | None:
    """'host', 'attend' or None. The host goes to what it hosts (its own plan); a guest by a
    stable coin with `attend_chance` (persona, whether the host told it in person, whether
    its plan has work then), so it can decline.

    The coin is keyed on ("attend", persona, event title, event date) and not on the template,
    so a day plan, its critic and a replan on the same facts agree; the seed changes every
    decision.
    """
    name = my_name(v)
    if same_person(ev.get("host"), name):
        return "host"
    title, day = event_key(ev)
    return "attend" if coin(attend_chance(v, ev), seed, "attend", name, title, day) else None


# -- text ---------------------------------------------------------------------------------------
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
