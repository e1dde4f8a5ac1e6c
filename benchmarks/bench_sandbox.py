"""The skill sandbox: what one run costs (a fresh child process, the checks, the replay).

    python benchmarks/bench_sandbox.py [--runs 50] [--flight 8]

For each skill: milliseconds per run one after the other (median and p95 of `--runs`), and
runs per second with `--flight` runs in flight at once (asyncio.gather, `--runs` in all).
"small" is the bake_bread example (three steps) on a two-room world; "smallville" the same
on all of Smallville (68 places, 54 objects, 25 residents); "imports" imports every
whitelisted module first; "timeout" loops until its time limit (0.2 s here) ends it. For
comparison, "bare" is starting `python -S -c pass` the same way (asyncio, pipes), and the
static check alone.
Each row runs behind the operating-system wall (bubblewrap and the seccomp filter, where this
machine has it) and without it (`--wall off`: the child started directly, the seccomp filter
still installed), one after the other, so the two can be compared within one run.
The rows run one after the other, each its sequential runs then its runs in flight.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import time
from pathlib import Path

from agentsim.skills import sandbox
from agentsim.skills.sandbox import Limits, check_code, run_skill
from agentsim.skills.snapshot import smallville_at_home
from agentsim.skills.wall import Wall, wall_argv, wall_status
from agentsim.world.loader import load_world

ROOT = Path(__file__).resolve().parent.parent

SNAPSHOT = {
    "agent": "isabella_rodriguez", "name": "Isabella Rodriguez",
    "location": "hobbs_cafe_counter", "time": "2023-02-13T08:00:00",
    "places": {"hobbs_cafe_counter": {"name": "Hobbs Cafe counter", "area": "hobbs_cafe",
                                      "objects": [], "documents": []},
               "hobbs_cafe_kitchen": {"name": "Hobbs Cafe kitchen", "area": "hobbs_cafe",
                                      "objects": ["hobbs_cafe_oven"], "documents": []}},
    "edges": [["hobbs_cafe_counter", "hobbs_cafe_kitchen", 1]],
    "objects": {"hobbs_cafe_oven": {"name": "oven", "place": "hobbs_cafe_kitchen",
                                    "state": "idle", "states": ["idle", "baking"]}},
    "people": {}, "documents": {},
}
SMALL = '''
def bake_bread(world, loaves: int = 2):
    """Bake bread in the cafe oven and put it out for sale."""
    world.move_to("hobbs_cafe_kitchen")
    world.use("hobbs_cafe_oven", "baking", minutes=40, activity=f"baking {loaves} loaves")
    world.wait(10, "letting the bread cool")
    return f"baked {loaves} loaves"
'''
IMPORTS = '''
import collections, datetime, functools, itertools, json, math, random, re, statistics, string

def bake_bread(world, loaves: int = 2):
    world.move_to("hobbs_cafe_kitchen")
    world.use("hobbs_cafe_oven", "baking", minutes=40)
    return statistics.mean([loaves, random.randint(1, 3)])
'''
TIMEOUT = '''
def bake_bread(world, loaves: int = 2):
    while True:
        pass
'''


def smallville() -> dict:
    """Smallville as its café owner sees it at 08:00, everyone at home."""
    return smallville_at_home(load_world(ROOT / "worlds" / "smallville"), "isabella_rodriguez")


# (name, code, limits, snapshot)
SKILLS = [("small", SMALL, Limits(), SNAPSHOT),
          ("smallville", SMALL.replace("hobbs_cafe_oven", "cafe_oven"), Limits(), smallville()),
          ("imports", IMPORTS, Limits(), SNAPSHOT),
          ("timeout", TIMEOUT, Limits(seconds=0.2), SNAPSHOT)]


NO_WALL = Wall(False, "benchmark without the wall")


async def once(code: str | None, limits: Limits, snapshot: dict) -> None:
    if code is None:  # a bare interpreter, started as the sandbox starts its child
        wall = sandbox.wall_status()
        argv = wall_argv(wall, ["-c", "pass"]) if wall.available else \
            [sys.executable, "-S", "-s", "-B", "-P", "-c", "pass"]
        proc = await asyncio.create_subprocess_exec(
            *argv,
            stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE, env={}, start_new_session=True)
        await proc.communicate(b"")
        return
    r = await run_skill(code, "bake_bread", {"loaves": 3}, snapshot, limits,
                        allow_unsandboxed=True)
    assert r.ok or r.error_kind == "timeout", r.error


async def sequential(code: str | None, limits: Limits, snapshot: dict,
                     runs: int) -> list[float]:
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        await once(code, limits, snapshot)
        times.append((time.perf_counter() - t0) * 1000)
    return times


async def in_flight(code: str | None, limits: Limits, snapshot: dict, runs: int,
                    flight: int) -> float:
    gate = asyncio.Semaphore(flight)

    async def one():
        async with gate:
            await once(code, limits, snapshot)

    t0 = time.perf_counter()
    await asyncio.gather(*(one() for _ in range(runs)))
    return runs / (time.perf_counter() - t0)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=50)
    ap.add_argument("--flight", type=int, default=8)
    ap.add_argument("--wall", choices=["both", "on", "off"], default="both")
    a = ap.parse_args()
    print("$ python benchmarks/bench_sandbox.py" + "".join(f" {x}" for x in sys.argv[1:]))
    wall = wall_status()
    print(f"wall: {wall.reason}")
    modes = {"both": ["wall", "no wall"], "on": ["wall"], "off": ["no wall"]}[a.wall]
    if not wall.available:
        modes = ["no wall"]
    print(f"{'skill':>10} {'mode':>8} {'limit s':>8} {'ms/run':>8} {'p95 ms':>8} "
          f"{f'runs/s ({a.flight} in flight)':>22}")
    for name, code, limits, snapshot in [("bare", None, Limits(), {}), *SKILLS]:
        for mode in modes:
            sandbox.wall_status = wall_status if mode == "wall" else (lambda: NO_WALL)
            times = asyncio.run(sequential(code, limits, snapshot, a.runs))
            rate = asyncio.run(in_flight(code, limits, snapshot, a.runs, a.flight))
            p95 = statistics.quantiles(times, n=20)[-1]
            limit = f"{limits.seconds:.1f}" if code else "-"
            print(f"{name:>10} {mode:>8} {limit:>8} {statistics.median(times):>8.1f} "
                  f"{p95:>8.1f} {rate:>22.1f}")
    sandbox.wall_status = wall_status
    t0 = time.perf_counter()
    for _ in range(1000):
        check_code(IMPORTS, "bake_bread")
    print(f"static check alone: {(time.perf_counter() - t0) * 1000 / 1000:.3f} ms")


if __name__ == "__main__":
    main()
