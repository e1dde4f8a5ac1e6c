"""Reading what was said: the offline mind's way to find an event, and who said it, in the text
of a memory.

Since issue 14 a listener remembers only the words it heard ('Tom Moreno said to me: "..."'),
never the speaker's structured event. A model reads such a memory as a person would; the
offline mind reads it by these rules:

- `said_by(text)`: 'X said to me: "..."' -> (X, the words); anything else -> (None, text).
- `events_in(text, places, year, speaker)`: every mention of the shape '<a|an|the> TITLE at
  PLACE on MONTH DAY from HH:MM to HH:MM' (the shape the offline speaker uses, and the one a
  world's seed memories and whispers are written in), with the host when it says 'X is hosting' or
  'I'm hosting' (then the one who said it). PLACE must be the name of a place listed in
  `places`, else the mention is not something the agent could go to. `heard_from` is who
  said it (the attendance rule counts being told by the host in person as an invitation).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from datetime import date
from typing import Any

_SAID = re.compile(r'^(?P<who>[^:"]+?) said(?: to me)?: "(?P<said>.*)"\s*$', re.DOTALL)
_EVENT = re.compile(
    r"(?:(?P<host>\b[A-Z][\w'.-]*(?: [A-Z][\w'.-]*)*|\bI)(?: is| am|'m|’m) "
    r"(?P<role>hosting|organi[sz]ing|running|holding) )?"
    r"(?:\b(?:an?|the) )?(?P<title>[A-Z0-9](?:(?!\b(?:is|am|told|said|that|hosting|organi[sz]ing|"
    r"holding|heard)\b|I'm|I’m)[^.?!,])*?)"
    r" at (?P<place>[A-Z][^.?!,]*?) on "
    r"(?P<month>[A-Z][a-z]+) (?P<day>\d{1,2}),? from (?P<start>\d{1,2}:\d{2}) to "
    r"(?P<end>\d{1,2}:\d{2})")
_MONTHS = {m: i for i, m in enumerate(
    ["January", "February", "March", "April", "May", "June", "July", "August", "September",
     "October", "November", "December"], start=1)}


def said_by(text: str) -> tuple[str | None, str]:
    """('Tom Moreno', 'Hi Sam! ...') for a heard utterance; (None, text) for anything else."""
    m = _SAID.match(str(text).strip())
    return (m["who"].strip(), m["said"].strip()) if m else (None, str(text).strip())


def _iso(month: str, day: str, year: int) -> str:
    n = _MONTHS.get(month)
    if n is None:
        return ""
    try:
        return date(year, n, int(day)).isoformat()
    except ValueError:
        return ""


def events_in(text: str, places: Sequence[Mapping[str, Any]] | None, year: int,
              speaker: str | None = None) -> list[dict[str, Any]]:
    """The events `text` tells of, as event dicts (title, place, place_name, start, end, host,
    host_role, date_iso, date), for places in `places` only (any place, named by its name,
    when `places` is None: for retelling, not for going there); see the module rules."""
    by_name = {str(p.get("name", "")).casefold(): str(p.get("id")) for p in places or []}
    out = []
    for m in _EVENT.finditer(str(text)):
        name = m["place"].strip()
        place = name if places is None else by_name.get(name.casefold())
        iso = _iso(m["month"], m["day"], year)
        if place is None or not iso:
            continue
        host = m["host"]
        if host == "I":
            host = speaker
        out.append({"title": m["title"].strip(), "place": place,
                    "place_name": m["place"].strip(), "start": m["start"].zfill(5),
                    "end": m["end"].zfill(5), "host": host or None,
                    "host_role": None if not host or m["role"] == "hosting" else m["role"],
                    "date_iso": iso, "date": f"{m['month']} {int(m['day'])}",
                    "heard_from": speaker})
    return out


def memory_events(memories: Sequence[Mapping[str, Any]],
                  places: Sequence[Mapping[str, Any]] | None,
                  year: int) -> list[tuple[dict[str, Any], Mapping[str, Any]]]:
    """(event, the memory that tells of it) for each memory: its own structured event (what
    the agent was seeded with or had whispered) or the events its words tell of."""
    found = []
    for m in memories:
        ev = m.get("event")
        if isinstance(ev, Mapping) and ev.get("title"):
            found.append((dict(ev), m))
            continue
        who, said = said_by(str(m.get("text", "")))
        found += [(e, m) for e in events_in(said, places, year, speaker=who)]
    return found
