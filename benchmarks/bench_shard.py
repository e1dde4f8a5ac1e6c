"""One simulation on 1 process vs split over Ray shards: wall and CPU.

    python benchmarks/bench_shard.py [--residents 100] [--hours 2] [--shards 1 2]
                                     [--embedder hash|minilm]

A world of `--residents` from `python -m agentsim.world.generate` (seed 0), run from 06:00 for
`--hours` sim-hours on the offline mind with the hash embedder (or the real all-MiniLM-L6-v2,
one torch thread per process: each shard loads its own) and a run directory, each
configuration in a fresh process of its own. 1 shard is the plain single-process run (no
Ray); N > 1 splits the residents over N actors on a local Ray instance started with
`num_cpus=N` (`agentsim.distributed.distribute`). Wall and CPU are counted from after the
simulation is built (and, sharded, its shards started and filled) to the end of the run.
CPU is user + sys of the whole process tree, read from /proc before anything exits: the
coordinator (this process), the shard actors (`ray::Shard`, with their skill sandboxes) and
Ray's own processes (GCS, raylet, idle workers). The events of every configuration are
compared byte for byte with the single-process run's.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TICK = os.sysconf("SC_CLK_TCK")


def _tree() -> dict[int, tuple[str, float]]:
    """This process and its descendants: pid -> (kind, CPU seconds so far)."""
    parent: dict[int, int] = {}
    for d in Path("/proc").iterdir():
        if d.name.isdigit():
            try:
                stat = (d / "stat").read_text()
            except OSError:
                continue
            parent[int(d.name)] = int(stat.rsplit(")", 1)[1].split()[1])
    me, out = os.getpid(), {}
    for pid in parent:
        p = pid
        while p not in (0, 1, me) and p in parent:
            p = parent[p]
        if p != me:
            continue
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            cmd = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
        except OSError:
            continue
        kind = "coordinator" if pid == me else ("shards" if "ray::Shard" in cmd else "ray")
        out[pid] = (kind, (int(fields[11]) + int(fields[12])) / TICK)
    return out


def _by_kind(before: dict[int, tuple[str, float]], after: dict[int, tuple[str, float]]
             ) -> dict[str, float]:
    sums = {"coordinator": 0.0, "shards": 0.0, "ray": 0.0}
    for pid, (kind, cpu) in after.items():
        sums[kind] += cpu - before.get(pid, (kind, 0.0))[1]
    return sums


def _shard_stats(sim) -> dict[str, float]:
    """The shards' CPU in steps and conversations so far, summed (0 for one process)."""
    if sim.shards is None:
        return {"step": 0.0, "converse": 0.0}
    import ray

    rows = ray.get([s.stats.remote() for s in sim.shards.shards])
    return {k: sum(r[k] for r in rows) for k in ("step", "converse")}


def one(world: str, hours: float, out: str, shards: int, embedder: str) -> dict:
    """Run one configuration in this process; the figures as a dict."""
    from agentsim.experiment import Simulation

    sim = Simulation.load(world, llm="offline", embedder=embedder, out=out)
    if shards > 1:
        import ray

        from agentsim.distributed import distribute

        ray.init(num_cpus=shards, include_dashboard=False, log_to_driver=False)
        distribute(sim, shards)
    s0 = _shard_stats(sim)
    c0, t0 = _tree(), time.perf_counter()
    sim.run(hours=hours)
    wall, cpu = time.perf_counter() - t0, _by_kind(c0, _tree())
    s1 = _shard_stats(sim)
    cpu["in_steps"] = sum(s1[k] - s0[k] for k in ("step", "converse"))
    sim.close()
    events = (sim.run_dir.path / "events.jsonl").read_bytes()
    return {"residents": len(sim.agents), "ticks": sim.clock.tick, "wall_s": wall, **cpu,
            "events_sha256": hashlib.sha256(events).hexdigest()}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--residents", type=int, default=100)
    ap.add_argument("--hours", type=float, default=2.0)
    ap.add_argument("--shards", type=int, nargs="+", default=[1, 2])
    ap.add_argument("--embedder", choices=("hash", "minilm"), default="hash")
    ap.add_argument("--one", nargs=3, metavar=("WORLD", "OUT", "SHARDS"), help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.one:
        print(json.dumps(one(args.one[0], args.hours, args.one[1], int(args.one[2]),
                             args.embedder)))
        return
    print("$ python benchmarks/bench_shard.py " + " ".join(sys.argv[1:]))
    print(f"{'shards':>6} {'residents':>9} {'ticks':>5} {'wall s':>7} {'CPU s':>7} "
          f"{'coordinator':>11} {'shards':>7} {'in steps':>8} {'other':>6} {'speed-up':>8} "
          f"{'events':>9}")
    with tempfile.TemporaryDirectory(prefix="agentsim-shard-") as tmp:
        world = Path(tmp) / "world"
        subprocess.run([sys.executable, "-m", "agentsim.world.generate", "--residents",
                        str(args.residents), "--out", str(world)], check=True, cwd=ROOT,
                       capture_output=True)
        first: dict | None = None
        for n in args.shards:
            cmd = [sys.executable, __file__, "--one", str(world), str(Path(tmp) / f"runs{n}"),
                   str(n), "--hours", str(args.hours), "--embedder", args.embedder]
            # a cache of its own, empty: the embeddings cache shared across runs would
            # otherwise answer a later configuration from an earlier one's vectors
            env = {**os.environ, "AGENTSIM_EMBED_CACHE": tempfile.mkdtemp(dir=tmp)}
            proc = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT, env=env)
            if proc.returncode != 0:
                sys.exit(f"{n} shards failed:\n{proc.stderr[-3000:]}")
            r = json.loads(proc.stdout.strip().splitlines()[-1])
            first = first or r
            total = r["coordinator"] + r["shards"] + r["ray"]
            same = "same" if r["events_sha256"] == first["events_sha256"] else "DIFFERENT"
            print(f"{n:>6} {r['residents']:>9} {r['ticks']:>5} {r['wall_s']:>7.1f} "
                  f"{total:>7.1f} {r['coordinator']:>11.1f} {r['shards']:>7.1f} "
                  f"{r['in_steps']:>8.1f} {r['ray']:>6.1f} "
                  f"{first['wall_s'] / r['wall_s']:>7.2f}x {same:>9}",
                  flush=True)


if __name__ == "__main__":
    main()
