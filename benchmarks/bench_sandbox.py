"""The skill sandbox: what one run costs (a fresh child process, the checks, the replay).

    python benchmarks/bench_sandbox.py [--runs 50] [--flight 8]

For each skill: milliseconds per run one after the other (median and p95 of `--runs`), and
runs per second with `--flight` runs in flight at once (asyncio.gather, `--runs` in all).
"small" is the bake_bread example (three steps); "imports" imports every whitelisted module
first; "timeout" loops until its time limit (0.2 s here) ends it. For comparison: starting
a bare `python -S` and the static check alone.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import subprocess
import sys
import time

from agentsim.skills.sandbox import Limits, check_code, run_skill

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
SKILLS = [("small", SMALL, Limits()), ("imports", IMPORTS, Limits()),
          ("timeout", TIMEOUT, Limits(seconds=0.2))]


async def sequential(code: str, limits: Limits, runs: int) -> list[float]:
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        r = await run_skill(code, "bake_bread", {"loaves": 3}, SNAPSHOT, limits)
        times.append((time.perf_counter() - t0) * 1000)
        assert r.ok or r.error_kind == "timeout", r.error
    return times


async def in_flight(code: str, limits: Limits, runs: int, flight: int) -> float:
    gate = asyncio.Semaphore(flight)

    async def one():
        async with gate:
            return await run_skill(code, "bake_bread", {"loaves": 3}, SNAPSHOT, limits)

    t0 = time.perf_counter()
    results = await asyncio.gather(*(one() for _ in range(runs)))
    wall = time.perf_counter() - t0
    assert all(r.ok or r.error_kind == "timeout" for r in results)
    return runs / wall


def bare_start(runs: int) -> float:
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        subprocess.run([sys.executable, "-S", "-s", "-B", "-P", "-c", "pass"], check=True, env={})
        times.append((time.perf_counter() - t0) * 1000)
    return statistics.median(times)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=50)
    ap.add_argument("--flight", type=int, default=8)
    a = ap.parse_args()
    print("$ python benchmarks/bench_sandbox.py" + "".join(f" {x}" for x in sys.argv[1:]))
    print(f"{'skill':>8} {'limit s':>8} {'ms/run':>8} {'p95 ms':>8} "
          f"{f'runs/s ({a.flight} in flight)':>22}")
    for name, code, limits in SKILLS:
        times = asyncio.run(sequential(code, limits, a.runs))
        rate = asyncio.run(in_flight(code, limits, a.runs, a.flight))
        p95 = statistics.quantiles(times, n=20)[-1]
        print(f"{name:>8} {limits.seconds:>8.1f} {statistics.median(times):>8.1f} {p95:>8.1f} "
              f"{rate:>22.1f}")
    print(f"bare `python -S -c pass`: {bare_start(20):.1f} ms")
    t0 = time.perf_counter()
    for _ in range(1000):
        check_code(IMPORTS, "bake_bread")
    print(f"static check alone: {(time.perf_counter() - t0):.3f} ms")


if __name__ == "__main__":
    main()
