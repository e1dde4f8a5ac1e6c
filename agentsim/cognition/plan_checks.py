"""Checks of a day plan computed from the world, before any critic reads it.

    result = check_plan(items, places, origin="apt_isabella", earliest=time(6), latest=time(22))
    result.passed        # every criterion holds
    result.checks        # one Check per criterion, with the problems found

Three criteria, named as the critic's prompt names them:

- "places exist": every item's place is a walkable place of the world.
- "reachable in time": the walk from the previous item's place (the origin, e.g. home, for the
  first item) fits within the previous item's span (from `earliest` for the first item), with
  `GRACE_MINUTES` to spare: plans are broad strokes, and a couple of minutes from one room of a
  house to the next is on time.
- "coherent times": start times strictly increase and lie within the waking hours
  [earliest, latest).

Each problem names the item (its index in the plan as given) and, for walks, the minutes
needed and available, so a refiner can fix exactly that item.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import time
from typing import Any, Protocol

from agentsim.contracts.plan_criteria import (
    COHERENT_TIMES,
    COMPUTED,
    CRITERIA,
    FITS_PERSONA,
    PLACES_EXIST,
    REACHABLE,
)
from agentsim.world.places import PlaceGraph

__all__ = ["COHERENT_TIMES", "COMPUTED", "CRITERIA", "FITS_PERSONA", "GRACE_MINUTES",
           "PLACES_EXIST", "REACHABLE", "Check", "ItemLike", "PlanChecks", "Problem",
           "check_plan", "minutes"]


GRACE_MINUTES = 5


class ItemLike(Protocol):
    start: str  # HH:MM
    activity: str
    place: str


def minutes(t: str | time) -> int:
    """'07:30' (or a time) -> 450."""
    if isinstance(t, time):
        return t.hour * 60 + t.minute
    h, m = t.split(":")[:2]
    return int(h) * 60 + int(m)


@dataclass(frozen=True)
class Problem:
    item: int  # index in the plan as given
    text: str
    walk_minutes: float | None = None
    available_minutes: int | None = None

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {"item": self.item, "text": self.text}
        if self.walk_minutes is not None:
            d["walk_minutes"] = round(self.walk_minutes, 1)
            d["available_minutes"] = self.available_minutes
        return d


@dataclass(frozen=True)
class Check:
    criterion: str
    problems: tuple[Problem, ...] = ()
    items: int = 0  # how many items were judged, for the score

    @property
    def passed(self) -> bool:
        return not self.problems

    @property
    def score(self) -> float:
        """Share of items with no problem under this criterion."""
        if self.passed:
            return 1.0
        bad = len({p.item for p in self.problems})
        return max(0.0, 1.0 - bad / max(1, self.items))

    def to_dict(self) -> dict[str, Any]:
        return {"criterion": self.criterion, "passed": self.passed,
                "problems": [p.to_dict() for p in self.problems]}


@dataclass(frozen=True)
class PlanChecks:
    checks: tuple[Check, ...] = field(default_factory=tuple)

    @property
    def passed(self) -> bool:
        return all(c.passed for c in self.checks)

    @property
    def score(self) -> float:
        """The mean of the criteria's scores, in [0, 1]."""
        return sum(c.score for c in self.checks) / len(self.checks) if self.checks else 1.0

    @property
    def failed(self) -> tuple[str, ...]:
        return tuple(c.criterion for c in self.checks if not c.passed)

    def get(self, criterion: str) -> Check:
        return next(c for c in self.checks if c.criterion == criterion)

    def problems(self) -> list[str]:
        return [p.text for c in self.checks for p in c.problems]

    def to_vars(self) -> list[dict[str, Any]]:
        """The checks as prompt variables (for the critic and the refiner)."""
        return [c.to_dict() for c in self.checks]


def check_plan(items: Sequence[ItemLike], places: PlaceGraph, *, origin: str,
               earliest: time | str, latest: time | str) -> PlanChecks:
    """Check `items` (in the order given) against the world. `origin` is where the agent is
    before the first item (home, on waking), `earliest`-`latest` the waking hours (a `latest`
    at or before `earliest` means midnight)."""
    lo, hi = minutes(earliest), minutes(latest)
    if hi <= lo:
        hi = 24 * 60
    n = len(items)
    starts = [minutes(i.start) for i in items]

    missing = tuple(
        Problem(k, f"item {k + 1} ({it.start} {it.activity}): no place {it.place!r} in the world")
        for k, it in enumerate(items) if it.place not in places
    )

    timing: list[Problem] = []
    for k, it in enumerate(items):
        if k and starts[k] <= starts[k - 1]:
            timing.append(Problem(k, f"item {k + 1} starts at {it.start}, not after item {k} "
                                     f"({items[k - 1].start})"))
        if not lo <= starts[k] < hi:
            timing.append(Problem(k, f"item {k + 1} starts at {it.start}, outside the waking "
                                     f"hours {_hhmm(lo)}-{_hhmm(hi)}"))

    walks: list[Problem] = []
    for k, it in enumerate(items):
        before = items[k - 1].place if k else origin
        since = starts[k - 1] if k else lo
        if before not in places or it.place not in places:
            continue  # reported under "places exist"
        available = starts[k] - since
        if available < 0:
            continue  # reported under "coherent times"
        try:
            walk = places.travel_minutes(before, it.place)
        except KeyError:
            walks.append(Problem(k, f"item {k + 1}: no path from {before} to {it.place}"))
            continue
        if walk > available + GRACE_MINUTES:
            frm = f"item {k} ({before})" if k else f"{before}, from {_hhmm(lo)}"
            walks.append(Problem(
                k, f"item {k + 1} ({it.start} at {it.place}): the walk from {frm} takes "
                   f"{walk:g} min, only {available} min are given", walk, available))

    return PlanChecks((Check(PLACES_EXIST, missing, n), Check(REACHABLE, tuple(walks), n),
                       Check(COHERENT_TIMES, tuple(timing), n)))


def _hhmm(m: int) -> str:
    return f"{m // 60:02d}:{m % 60:02d}"
