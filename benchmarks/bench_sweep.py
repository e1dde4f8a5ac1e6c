"""Sweep throughput: runs per second with 1 and 2 local worker processes, and on Ray when it is
installed, for the same 2 x 3 grid of Smallville runs (offline mind, hash embedder).

    python benchmarks/bench_sweep.py [--hours 4] [--no-ray]

The runs are the same in every mode (the summaries are compared), so the ratio is the
speed-up of parallel runs alone; process start-up and Ray's start-up are included.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

from agentsim.sweeps import sweep

ROOT = Path(__file__).resolve().parent.parent
GRID = {"max_turns": [2, 6]}
SEEDS = [0, 1, 2]


def timed(label: str, **kw) -> tuple[float, object]:
    with tempfile.TemporaryDirectory() as out:
        t = time.perf_counter()
        result = sweep(str(ROOT / "worlds" / "smallville"), GRID, SEEDS, embedder="hash",
                       out=out, **kw)
        wall = time.perf_counter() - t
    n = len(result.runs)
    print(f"{label:<22}{n:>5}{wall:>9.1f}{n / wall:>9.2f}", flush=True)
    return wall, result.summary


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--hours", type=float, default=4)
    ap.add_argument("--no-ray", action="store_true")
    args = ap.parse_args()
    print(f"$ python benchmarks/bench_sweep.py {' '.join(sys.argv[1:])}")
    print(f"Smallville, 25 residents, {args.hours:g} h from 06:00, grid 2 x 3 seeds")
    print(f"{'mode':<22}{'runs':>5}{'wall s':>9}{'runs/s':>9}")
    one, base = timed("local, 1 worker", hours=args.hours, workers=1, backend="local")
    two, summary = timed("local, 2 workers", hours=args.hours, workers=2, backend="local")
    assert summary.equals(base), "parallel runs must give the same numbers"
    print(f"speed-up with 2 workers: {one / two:.2f}x")
    if args.no_ray:
        return
    try:
        import ray
    except ImportError:
        print("ray: not installed (pip install 'agentsim[ray]')")
        return
    t = time.perf_counter()
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    print(f"ray.init: {time.perf_counter() - t:.1f} s")
    _, on_ray = timed("ray, 2 CPUs", hours=args.hours)
    ray.shutdown()
    assert on_ray.equals(base), "Ray must give the same numbers"
    print("same summaries in all modes: yes")


if __name__ == "__main__":
    main()
