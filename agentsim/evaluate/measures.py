"""The paper's end-to-end measures (Park et al. 2023 Sec. 7.1) for one condition's run, from
`agentsim.metrics`: how far two pieces of news spread, how dense the network of who knows
whom became, and how many of the residents who knew of the party came to it.

Definitions (stated, since they are choices):
- diffusion: share of residents who know, by interview as in the paper (`Metrics.diffusion`,
  by "interview"): every resident is asked "Do you know about <topic>?" at the start (tick 0,
  before the run: `interview_measures`) and at the end, and knows when it answers yes citing
  a memory it has that tells of it; a yes without such evidence is a hallucination, reported
  apart. A memory tells of the candidacy when its text (or its event's title) names Sam with
  "mayor" or "election", or is "Smallville mayoral election"; of the party when it holds
  "Valentine's Day party". The event-log measure (seeded, heard in a conversation,
  whispered, learned) is kept as `diffusion_events`.
- density: by interview as in the paper (`Metrics.density`): every resident asked about
  every other ("Do you know <name>?"), a pair known when the yes cites a memory naming the
  other; start and end. The personas' relationships plus every pair that talked
  (`Metrics.density_over_time`) is kept as `density_conversations`. Without a live
  simulation (a finished run) only the log-based measures exist, and stand in.
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


# How each subject is asked about: the topic named in the question, and the words a memory
# may name it by (the offline mind's reading; a model sees them in the prompt too).
PROBES: dict[str, tuple[str, list[str]]] = {
    "candidacy": ("Sam Moore running for mayor", ["mayor", "Smallville mayoral election"]),
    "party": (f"the {PARTY}", [PARTY]),
}


def _probe_of(name: str, about: About) -> tuple[str, list[str]] | None:
    if name in PROBES and SUBJECTS.get(name) == about:  # a default subject
        return PROBES[name]
    return None if callable(about) else (about, [about])


def interview_measures(sim: Any, subjects: Mapping[str, About] | None = None,
                       sample: int | None = None) -> dict[str, Any]:
    """Diffusion and density by interview, now: {"diffusion": {name: {knowers, hallucinated,
    total, share}}, "density": {asked, known, hallucinated, density}}. `sample`: others asked
    about per resident (all by default). A predicate subject with no entry in PROBES is not
    asked (its topic cannot be phrased)."""
    subjects = SUBJECTS if subjects is None else subjects
    m = sim.metrics
    out: dict[str, Any] = {"diffusion": {}}
    for name, about in subjects.items():
        probe = _probe_of(name, about)
        if probe is None:
            continue
        d = m.diffusion(about, by="interview", topic=probe[0], aliases=probe[1]).iloc[0]
        out["diffusion"][name] = {k: (float(d[k]) if k == "share" else int(d[k]))
                                  for k in ("knowers", "hallucinated", "total", "share")}
    dn = m.density(by="interview", sample=sample).iloc[0]
    out["density"] = {k: (float(dn[k]) if k == "density" else int(dn[k]))
                      for k in ("asked", "known", "hallucinated", "density")}
    return out


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


def measure(m: Metrics, subjects: Mapping[str, About] | None = None, *,
            start: Mapping[str, Any] | None = None, sample: int | None = None
            ) -> dict[str, Any]:
    """All end-to-end measures of one run, as plain data. With a live simulation
    (`m.sim`), diffusion and density are by interview: `start` is `interview_measures`
    taken at tick 0 (before the run), the end is asked now; `sample` as there. The log-based
    measures are kept beside them (`diffusion_events`, `density_conversations`) and stand in
    for a finished run."""
    subjects = SUBJECTS if subjects is None else subjects
    out: dict[str, Any] = {"diffusion_events": {}}
    for name, about in subjects.items():
        s = spread(m, about)
        out["diffusion_events"][name] = {"start": s.start, "end": s.end,
                                         "knowers_start": s.knowers_start,
                                         "knowers_end": s.knowers_end}
    out["series"] = {name: _series(m.diffusion(about), "share")
                     for name, about in subjects.items()}
    dd = m.density_over_time()
    out["series"]["density"] = _series(dd, "density")
    d = density(m)
    out["density_conversations"] = {"start": d[0], "end": d[1]} if d else None
    out["diffusion"], out["density"] = dict(out["diffusion_events"]), out["density_conversations"]
    out["by"] = "events"
    if m.sim is not None:
        out["by"] = "interview"
        end = interview_measures(m.sim, subjects, sample)
        for name, e in end["diffusion"].items():
            b = (start or {}).get("diffusion", {}).get(name)
            out["diffusion"][name] = {
                "start": b["share"] if b else None, "end": e["share"],
                "knowers_start": b["knowers"] if b else None, "knowers_end": e["knowers"],
                "hallucinated_start": b["hallucinated"] if b else None,
                "hallucinated_end": e["hallucinated"], "total": e["total"]}
        b = (start or {}).get("density")
        out["density"] = {"start": b["density"] if b else None,
                          "end": end["density"]["density"],
                          "known_start": b["known"] if b else None,
                          "known_end": end["density"]["known"], "asked": end["density"]["asked"],
                          "hallucinated_start": b["hallucinated"] if b else None,
                          "hallucinated_end": end["density"]["hallucinated"]}
    out["attendance"] = attendance(m, subjects.get("party", PARTY))
    out["conversations"] = sum(1 for e in m.event_list if e.type == "conversation")
    out["reflections"] = sum(1 for e in m.event_list if e.type == "reflected")
    out["plans"] = sum(1 for e in m.event_list if e.type == "plan_made")
    return out


def _series(frame: Any, column: str) -> dict[str, list]:
    """A measure over time, for plots: sim times (ISO) and values."""
    return {"time": [t.isoformat() for t in frame["time"]],
            column: [float(x) for x in frame[column]]}
