"""A 2 x 3 sweep of Smallville as the README shows it, first on local processes, then in the
same script after `ray.init()` (an in-process local Ray): wall times, and whether the two
give identical frames (every column of `runs` but run_dir, and `summary`).

    python benchmarks/bench_sweep_backends.py [--hours 4] [--embedder minilm|hash]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import agentsim

ROOT = Path(__file__).resolve().parent.parent
GRID = {"weights": [(1, 1, 1), (1, 1, 3)]}

if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument("--hours", type=float, default=4)
    ap.add_argument("--embedder", default="minilm")
    args = ap.parse_args()
    print(f"$ python benchmarks/bench_sweep_backends.py {' '.join(sys.argv[1:])}")
    world = str(ROOT / "worlds" / "smallville")
    with tempfile.TemporaryDirectory() as out:
        t = time.perf_counter()
        local = agentsim.sweep(world, grid=GRID, seeds=[0, 1, 2], hours=args.hours,
                               embedder=args.embedder, out=f"{out}/local")
        t_local = time.perf_counter() - t
        import ray

        t = time.perf_counter()
        ray.init(include_dashboard=False, log_to_driver=False)
        t_init = time.perf_counter() - t
        t = time.perf_counter()
        on_ray = agentsim.sweep(world, grid=GRID, seeds=[0, 1, 2], hours=args.hours,
                                embedder=args.embedder, out=f"{out}/ray")
        t_ray = time.perf_counter() - t
        ray.shutdown()
    same_runs = local.runs.drop(columns=["run_dir"]).equals(on_ray.runs.drop(columns=["run_dir"]))
    print(f"{local.backend} {t_local:.1f} s   ray.init {t_init:.1f} s   "
          f"{on_ray.backend} {t_ray:.1f} s   ({len(local.runs)} runs of {args.hours:g} h)")
    print(f"runs equal: {same_runs}  summary equal: {local.summary.equals(on_ray.summary)}  "
          f"errors: {int(local.runs['error'].notna().sum())}, "
          f"{int(on_ray.runs['error'].notna().sum())}")
