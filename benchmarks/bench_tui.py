"""How promptly the live view answers keys while a simulation runs.

Smallville (25 residents, offline mind) in the TUI, driven by Textual's Pilot in a headless
terminal of 120x40, at max speed. Each key (pause/resume, faster, slower, next resident) is
sent while a tick is in flight, as a terminal's input thread sends it (the driver's
`send_message`; Pilot's `press` would also wait for the app to go idle), and the time is taken
from the key to the moment the screen shows the change (the status line or the inspector),
polling every 5 ms on the app's own loop. A 50 ms timer on the same loop records how late it
fires (loop lag): a blocked loop (say, the embedding model encoding on it) shows here first.

    python benchmarks/bench_tui.py                     # MiniLM embedder, then a 2 s LLM
    python benchmarks/bench_tui.py --embedder hash --presses 20
"""

from __future__ import annotations

import argparse
import asyncio
import math
import statistics
import sys
import time
from pathlib import Path

SMALLVILLE = str(Path(__file__).resolve().parent.parent / "worlds" / "smallville")
SIZE = (120, 40)


class SlowLLM:
    """The simulation's LLM with `delay` seconds added to every call."""

    def __init__(self, inner, delay: float):
        self.inner, self.delay = inner, delay

    def __getattr__(self, name):
        return getattr(self.inner, name)

    async def ask(self, *a, **kw):
        await asyncio.sleep(self.delay)
        return await self.inner.ask(*a, **kw)


def send(app, key: str) -> None:
    """The key as the terminal's driver delivers it."""
    from textual import events

    event = events.Key(key, " " if key == "space" else key if len(key) == 1 else None)
    event.set_sender(app)
    app._driver.send_message(event)


def status(app) -> str:
    return str(app.status_bar.render())


async def measure(embedder: str, llm_delay: float, presses: int, warm_ticks: int) -> dict:
    from agentsim.experiment import Simulation
    from agentsim.tui.app import AgentsimApp

    t0 = time.perf_counter()
    sim = Simulation.load(SMALLVILLE, seed=0, embedder=embedder)
    if llm_delay:
        sim.llm = SlowLLM(sim.llm, llm_delay)
    app = AgentsimApp(sim, None, speed=math.inf)
    lags: list[float] = []
    out: dict = {}

    def probe() -> None:
        due = time.perf_counter() + 0.05
        app.set_timer(0.05, lambda: (lags.append(time.perf_counter() - due), probe()))

    async def shown(condition, timeout: float = 30.0) -> float:
        start = time.perf_counter()
        while not condition():
            if time.perf_counter() - start > timeout:
                raise TimeoutError("the screen did not change")
            await asyncio.sleep(0.005)
        return time.perf_counter() - start

    async with app.run_test(size=SIZE) as pilot:
        await shown(lambda: app.table.row_count == len(sim.agents))
        out["first screen s"] = time.perf_counter() - t0
        # the first ticks load the embedding model and index the town's documents
        await shown(lambda: sim.clock.tick >= warm_ticks, timeout=600)
        probe()
        latencies: list[float] = []
        ids = sorted(sim.agents)
        for i in range(presses):
            if not app.runner.paused:  # press while a tick is in flight
                await shown(lambda: app.runner.busy, timeout=60)
            if app.table.cursor_row == len(ids) - 1:
                app.table.move_cursor(row=0)
                await pilot.pause()
            after = ids[app.table.cursor_row + 1]
            key, condition = [
                ("space", lambda: "paus" in status(app)),
                ("space", lambda: "running" in status(app)),
                ("minus", lambda: "20 tick/s" in status(app)),
                ("plus", lambda: "max speed" in status(app)),
                ("j", lambda after=after: app.inspector.agent_id == after),
            ][i % 5]
            start = time.perf_counter()
            send(app, key)
            await shown(condition, timeout=10)
            latencies.append(time.perf_counter() - start)
            await asyncio.sleep(0.05)
        out["ticks"] = sim.clock.tick
        app.runner.pause()
        await pilot.press("q", "q")
    await sim.aclose()
    latencies.sort()
    out["key median ms"] = 1000 * statistics.median(latencies)
    out["key p90 ms"] = 1000 * latencies[int(0.9 * (len(latencies) - 1))]
    out["key max ms"] = 1000 * latencies[-1]
    out["loop lag max ms"] = 1000 * max(lags) if lags else float("nan")
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--embedder", default="minilm", choices=["minilm", "hash"])
    ap.add_argument("--presses", type=int, default=30)
    ap.add_argument("--llm-delay", type=float, default=2.0,
                    help="seconds added to every LLM call in the second case")
    args = ap.parse_args()
    print("$ python " + " ".join(["benchmarks/bench_tui.py", *sys.argv[1:]]))
    cases = [(f"{args.embedder}, offline mind", args.embedder, 0.0, 3),
             (f"hash, LLM +{args.llm_delay:g} s a call", "hash", args.llm_delay, 0)]
    print(f"{'case':<28} {'1st screen s':>12} {'ticks':>6} {'key med ms':>10} "
          f"{'key p90 ms':>10} {'key max ms':>10} {'loop lag max ms':>15}")
    for label, embedder, delay, warm in cases:
        r = asyncio.run(measure(embedder, delay, args.presses, warm))
        print(f"{label:<28} {r['first screen s']:>12.2f} {r['ticks']:>6} "
              f"{r['key median ms']:>10.0f} {r['key p90 ms']:>10.0f} {r['key max ms']:>10.0f} "
              f"{r['loop lag max ms']:>15.0f}")


if __name__ == "__main__":
    main()
