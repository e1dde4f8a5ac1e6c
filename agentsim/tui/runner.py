"""The loop that moves a simulation for a live view: run, pause, single steps, a speed.

It runs on the UI's own asyncio loop (the simulation is asyncio-based), awaiting `astep()`
once per tick, so the view stays free while a tick waits on the LLM. Every change of state
(pause, step, speed) wakes it at once. No Textual here: the app hands it a callback per tick.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
from collections.abc import Callable

from agentsim.errors import LLMUnavailable
from agentsim.experiment import Simulation
from agentsim.tui.pace import Pace

SPEEDS = (0.5, 1.0, 2.0, 5.0, 10.0, 20.0, math.inf)  # ticks per second; inf: no pause at all


def speed_label(speed: float) -> str:
    return "max speed" if math.isinf(speed) else f"{speed:g} tick/s"


class Runner:
    """Steps `sim` until `total_ticks` more ticks have run (None: forever)."""

    def __init__(self, sim: Simulation, total_ticks: int | None = None, *,
                 speed: float = 1.0, paused: bool = False):
        self.sim = sim
        self.end_tick = sim.clock.tick + total_ticks if total_ticks is not None else None
        self.speed = speed if speed > 0 else math.inf
        self.paused = paused
        self.busy = False  # a tick is in flight
        self.finished: str | None = None  # "run finished", "stopped: ...", "error: ..."
        self.error: BaseException | None = None
        self._steps = 0  # single steps asked for while paused
        self._after_tick: list[Callable[[], None]] = []
        self._wake = asyncio.Event()
        self._last = -math.inf  # loop time the last tick ended
        self.pace = Pace()  # the measured speed (the target is `speed`)
        self.ticks_done = 0  # ticks this runner has seen end

    # -- controls (called from the UI) ------------------------------------------------------
    def toggle(self) -> None:
        if self.paused:
            self.resume()
        else:
            self.pause()

    def pause(self) -> None:
        self.paused = True
        self._wake.set()

    def resume(self) -> None:
        if self.paused:
            self.pace.restart()  # time spent paused does not count against the rate
        self.paused = False
        self._wake.set()

    def step(self) -> bool:
        """One more tick while paused; False if running or finished."""
        if not self.paused or self.finished:
            return False
        self._steps += 1
        self._wake.set()
        return True

    def faster(self) -> None:
        self.speed = next((s for s in SPEEDS if s > self.speed), SPEEDS[-1])
        self._wake.set()

    def slower(self) -> None:
        self.speed = next((s for s in reversed(SPEEDS) if s < self.speed), SPEEDS[0])
        self._wake.set()

    def after_tick(self, fn: Callable[[], None]) -> bool:
        """Run `fn` now if no tick is in flight (True), else as soon as it ends (False), so it
        sees a whole tick (a checkpoint must never catch the world half-stepped)."""
        if not self.busy:
            fn()
            return True
        self._after_tick.append(fn)
        return False

    @property
    def state(self) -> str:
        if self.finished:
            return self.finished
        if self.paused:
            return "pausing…" if self.busy else "paused"  # "pausing": the tick is finishing
        return "running"

    # -- the loop ---------------------------------------------------------------------------
    async def run(self, on_tick: Callable[[], None]) -> None:
        """Step until the end, calling `on_tick()` after every tick and once when it stops.
        The loop is the simulation's own (`Simulation.arun`: the budget, stop reasons, the
        LLM giving up); this runner only paces it."""
        loop = asyncio.get_running_loop()
        self._last = -math.inf  # loop time the last tick ended

        self.pace.restart()

        def ticked() -> None:
            self.busy = False
            self.ticks_done += 1
            self.pace.ticked()
            self._run_after_tick()
            self._last = loop.time()
            on_tick()

        total = None if self.end_tick is None else self.end_tick - self.sim.clock.tick
        try:
            reason = await self.sim.arun(ticks=total, pace=self._pace, after_tick=ticked)
            if reason:
                self.finished = f"stopped: {reason}"
        except LLMUnavailable as e:  # the server is gone: halted, the last checkpoint stands
            self.error = e
            self.finished = f"stopped: {e}"
        except Exception as e:  # shown in the view; the run stops where it is
            self.error = e
            self.finished = f"error: {e}"
        finally:
            self.busy = False
        if self.finished is None:
            self.finished = "run finished"
        self._steps = 0
        self._run_after_tick()
        on_tick()

    async def _pace(self) -> None:
        """Wait until the next tick may start: not paused (or a single step asked for), and
        1/speed seconds after the last tick ended."""
        loop = asyncio.get_running_loop()
        while True:
            if self.paused and not self._steps:
                await self._sleep(None)
                continue
            if not self.paused:
                wait = self._last + 1 / self.speed - loop.time()
                if wait > 0:
                    await self._sleep(wait)
                    continue
            else:
                self._steps -= 1
            self.busy = True
            return

    def _run_after_tick(self) -> None:
        todo, self._after_tick = self._after_tick, []
        for fn in todo:
            fn()

    async def _sleep(self, timeout: float | None) -> None:
        self._wake.clear()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._wake.wait(), timeout)
