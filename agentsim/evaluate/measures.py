"""The paper's end-to-end measures (Park et al. 2023 Sec. 7.1) for one condition's run, from
`agentsim.metrics`: how far two pieces of news spread, how dense the network of who knows
whom became, and how many of the residents who knew of the party came to it.

Definitions (stated, since they are choices):
- diffusion: share of residents who know, from the event log (`Metrics.diffusion`, by
  "events": seeded, heard in a conversation, whispered, learned), at the first and last tick.
  The candidacy is known from a text naming Sam with "mayor" or "election", or the event
  "Smallville mayoral election"; the party from "Valentine's Day party".
- density: `Metrics.density_over_time` (the personas' relationships plus every pair that
  talked), first and last.
- attendance: the residents who knew of the party by its start (the host left out) are the
  invited; those of them at its place during it (`Metrics.occupancy`) came. None while the
  run has not reached the party's end.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from agentsim.metrics import Metrics, knowledge_times

About = str | Callable[[str], bool]


def candidacy(text: str) -> bool:
    """Knowing that Sam Moore runs for mayor: a text naming Sam with "mayor" or "election",
    or the title of his event (a text about the election alone does not count)."""
    t = text.casefold().strip()
    return t == "smallville mayoral election" or (
        "sam" in t and ("mayor" in t or "election" in t))


PARTY = "Valentine's Day party"
SUBJECTS: dict[str, About] = {"candidacy": candidacy, "party": PARTY}
DEFINITIONS = {"candidacy": "a text naming Sam with 'mayor' or 'election', or the event "
                            "title 'Smallville mayoral election' (Smallville's personas seed "
                            "four residents with it; the paper's, one)",
               "party": f"a text or event title with {PARTY!r}"}


@dataclass(frozen=True)
class Spread:
    start: float
    end: float
    knowers_start: int
    knowers_end: int


def spread(m: Metrics, about: About) -> Spread:
    d = m.diffusion(about)
    if d.empty:
        n = len(m.seeded_with(about))
        share = n / len(m.agents) if m.agents else 0.0
        return Spread(share, share, n, n)
    return Spread(float(d["share"].iloc[0]), float(d["share"].iloc[-1]),
                  int(d["knowers"].iloc[0]), int(d["knowers"].iloc[-1]))


def density(m: Metrics) -> tuple[float, float] | None:
    d = m.density_over_time()
    if d.empty:
        return None
    return float(d["density"].iloc[0]), float(d["density"].iloc[-1])


def attendance(m: Metrics, about: About = PARTY) -> dict[str, Any] | None:
    """Who knew of the event by its start and who of them came (None: no such event in the
    world, or the run ended before it did)."""
    match = about if callable(about) else (lambda t: about.casefold() in t.casefold())
    event = next((mem.event for p in m.world.personas.values() for mem in p.memories
                  if mem.event is not None and match(mem.event.title)), None)
    ends = [e.time for e in m.event_list if e.type == "tick_ended"]
    step = timedelta(minutes=m.world.spec.tick_minutes)
    if event is None or not ends or max(ends) + step < event.end:
        return None
    known = knowledge_times(m.event_list, about, m.seeded_with(about))
    host = m.world.persona_by_name(event.host) if event.host else None
    invited = sorted(a for a, t in known.items()
                     if (t is None or t <= event.start) and m.world.personas.get(a) is not host)
    here = set(m.occupancy(event.place, event.start, event.end)["agent"])
    came = [a for a in invited if a in here]
    return {"event": event.title, "place": event.place, "invited": len(invited),
            "came": len(came), "invited_ids": invited, "came_ids": came,
            "others_there": sorted(here - set(invited))}


def measure(m: Metrics, subjects: Mapping[str, About] | None = None) -> dict[str, Any]:
    """All end-to-end measures of one run, as plain data."""
    subjects = SUBJECTS if subjects is None else subjects
    out: dict[str, Any] = {"diffusion": {}}
    for name, about in subjects.items():
        s = spread(m, about)
        out["diffusion"][name] = {"start": s.start, "end": s.end,
                                  "knowers_start": s.knowers_start,
                                  "knowers_end": s.knowers_end}
    out["series"] = {name: _series(m.diffusion(about), "share")
                     for name, about in subjects.items()}
    dd = m.density_over_time()
    out["series"]["density"] = _series(dd, "density")
    d = density(m)
    out["density"] = {"start": d[0], "end": d[1]} if d else None
    out["attendance"] = attendance(m, subjects.get("party", PARTY))
    out["conversations"] = sum(1 for e in m.event_list if e.type == "conversation")
    out["reflections"] = sum(1 for e in m.event_list if e.type == "reflected")
    out["plans"] = sum(1 for e in m.event_list if e.type == "plan_made")
    return out


def _series(frame: Any, column: str) -> dict[str, list]:
    """A measure over time, for plots: sim times (ISO) and values."""
    return {"time": [t.isoformat() for t in frame["time"]],
            column: [float(x) for x in frame[column]]}
