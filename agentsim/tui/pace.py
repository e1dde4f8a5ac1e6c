"""How fast a run really goes: ticks per wall second over a recent window, and the sim-time
that makes per wall minute. The live view shows this next to the target speed, since the
target is only an upper bound (a tick that waits 10 s on the LLM runs at 0.1 tick/s whatever
the target). No Textual here; the clock is injectable so the figures are testable."""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable

WINDOW = 30.0  # wall seconds the rate is measured over


class Pace:
    """Marks the wall time each tick ends; `rate()` is the ticks that ended in the last
    `window` seconds over the time they took. `restart()` (on resume) forgets the marks, so
    time spent paused never counts against the rate."""

    def __init__(self, window: float = WINDOW, clock: Callable[[], float] = time.monotonic):
        self.window = window
        self.clock = clock
        self._start: float | None = None  # when running (re)started
        self._ends: deque[float] = deque()

    def restart(self) -> None:
        self._start = self.clock()
        self._ends.clear()

    def ticked(self) -> None:
        now = self.clock()
        if self._start is None:
            self._start = now
        self._ends.append(now)
        self._trim(now)

    def rate(self) -> float | None:
        """Ticks per wall second lately; None until a tick has ended since the start. While a
        long tick is in flight the rate falls, as it should: the time counts from the window's
        start (or the restart) to now, not to the last tick's end."""
        if self._start is None or not self._ends:
            return None
        now = self.clock()
        self._trim(now)
        since = max(self._start, now - self.window)
        span = now - since
        if span <= 0:
            return None
        return len(self._ends) / span

    def _trim(self, now: float) -> None:
        while self._ends and self._ends[0] < now - self.window:
            self._ends.popleft()


def rate_label(rate: float) -> str:
    """0.1234 -> '0.12 tick/s'; 3.456 -> '3.5 tick/s'; 25.2 -> '25 tick/s'."""
    if rate >= 10:
        return f"{rate:.0f} tick/s"
    return f"{rate:.1f} tick/s" if rate >= 1 else f"{rate:.2f} tick/s"


def sim_per_minute(rate: float, tick_minutes: int) -> str:
    """The sim-time one wall minute makes at `rate`: '6 sim-min/min', '1.5 sim-h/min'."""
    minutes = rate * 60 * tick_minutes
    if minutes >= 60:
        return f"{minutes / 60:.1f} sim-h/min"
    return f"{minutes:.0f} sim-min/min" if minutes >= 10 else f"{minutes:.1f} sim-min/min"
