"""The engine at scale: wall, CPU per agent-step, peak RSS and run-directory size by town size.

    python benchmarks/bench_scale.py [--residents 25 100 1000] [--hours 2] [--10k]
                                     [--no-skills] [--profile N [--profile-out FILE]]

Each size is a world from `agentsim.world.generate` (Smallville's places in districts,
personas varied; seed 0), run from 06:00 for `--hours` sim-hours on the offline mind with the
hash embedder, with a run directory (events, checkpoints, LLM record), each in a fresh
process of its own so that peak RSS and CPU are that size's alone. CPU is user + sys of the
process and of the skill sandboxes ("sandbox CPU s", part of "CPU s"; "engine ms/step" is
the process's own, without them), counted from after the simulation is built (start-up
removed: imports, chromadb's included, world loading, the first probe of the sandbox's wall)
to the end of the run. The sandboxes run behind bubblewrap's PID namespace, whose init reaps
them, so their CPU never reaches this process's RUSAGE_CHILDREN: it is read from /proc, from
the live warm zygotes with the children they reaped, before they end. "skill runs" counts the
run's `SkillUsed` events (a skill run in the sandbox each), "sandbox ms/run" is the sandbox
CPU per skill run (its warm zygotes' start-up included).

`--profile N` runs size N under cProfile and prints where the time goes, with the share
spent rendering prompts (`agentsim.llm.prompts.PromptLibrary.render`). The profile is timed
by the wall clock (a CPU-time timer costs more than most of what it times, and cProfile
inflates code made of many small calls): waiting for a sandbox shows as
`select.epoll.poll`, and the sandboxes' own CPU is not in it. `--profile-out FILE` keeps the
profile's stats for `python -m pstats FILE`.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import json
import os
import pstats
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _cpu(who: int | None = None) -> float:
    """User + sys CPU seconds of this process and its children (or of `who` alone)."""
    if who is None:
        return _cpu(resource.RUSAGE_SELF) + _cpu(resource.RUSAGE_CHILDREN)
    r = resource.getrusage(who)
    return r.ru_utime + r.ru_stime


def _tree_cpu() -> float:
    """User + sys CPU seconds of this process's live descendants, each with the children it
    has reaped (from /proc). The skill sandboxes run behind bubblewrap's PID namespace, whose
    init reaps them: their CPU never reaches this process's RUSAGE_CHILDREN, so it is read
    from the zygotes (which reap the child of each run) while they are alive."""
    parent: dict[int, int] = {}
    times: dict[int, float] = {}
    hz = os.sysconf("SC_CLK_TCK")
    for d in Path("/proc").iterdir():
        if not d.name.isdigit():
            continue
        try:
            fields = (d / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:  # ended meanwhile
            continue
        parent[int(d.name)] = int(fields[1])
        times[int(d.name)] = sum(int(x) for x in fields[11:15]) / hz  # utime..cstime
    below: dict[int, list[int]] = {}
    for pid, ppid in parent.items():
        below.setdefault(ppid, []).append(pid)
    todo, total = list(below.get(os.getpid(), [])), 0.0
    while todo:
        pid = todo.pop()
        total += times[pid]
        todo += below.get(pid, [])
    return total


def _size(path: Path) -> int:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file())


def one(world: str, hours: float, out: str, skills: bool, profile: bool,
        dump: str | None = None) -> dict:
    """Run one size in this process; the figures as a dict."""
    from agentsim.experiment import Simulation
    try:
        from agentsim.skills.pool import close_all
    except ImportError:  # an agentsim from before warm workers (to compare with)
        def close_all() -> None:
            return None
    from agentsim.skills.wall import wall_status

    wall_status()  # probed once per process: start-up
    # imports are start-up too: the skill library imports chromadb (seconds of CPU) on a
    # worker thread once the run has begun
    from agentsim.preload import preload
    preload(chromadb=True)
    sim = Simulation.load(world, llm="offline", embedder="hash", out=out,
                          settings=None if skills else {"skills": False})
    n = len(sim.agents)
    prof = cProfile.Profile() if profile else None
    tree0 = _tree_cpu()
    c0, k0, t0 = _cpu(), _cpu(resource.RUSAGE_CHILDREN), time.perf_counter()
    if prof:
        prof.enable()
    sim.run(hours=hours)
    if prof:
        prof.disable()
    # the sandboxes' CPU: the children reaped so far, and the live zygotes with theirs
    wall, tree = time.perf_counter() - t0, _tree_cpu() - tree0
    kids, cpu = _cpu(resource.RUSAGE_CHILDREN) - k0 + tree, _cpu() - c0 + tree
    close_all()  # warm sandbox workers end
    ticks = sim.clock.tick
    calls = sim.llm.usage.total.calls
    from agentsim.events import SkillUsed
    runs = sum(isinstance(e, SkillUsed) for e in sim.events)
    sim.close()
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    res = {"residents": n, "ticks": ticks, "wall_s": wall, "cpu_s": cpu,
           "cpu_ms_per_step": 1000 * cpu / (ticks * n), "children_cpu_s": kids,
           "engine_ms_per_step": 1000 * (cpu - kids) / (ticks * n),
           "wall_ms_per_step": 1000 * wall / (ticks * n),
           "peak_rss_mb": rss, "run_dir_mb": _size(Path(out)) / 2**20, "llm_calls": calls,
           "skill_runs": runs, "sandbox_ms_per_run": 1000 * kids / runs if runs else 0.0}
    if prof:
        s = io.StringIO()
        st = pstats.Stats(prof, stream=s)
        if dump:
            st.dump_stats(dump)
        total = st.total_tt
        render = sum(v[3] for k, v in st.stats.items()
                     if k[2] == "render" and k[0].endswith("llm/prompts.py"))
        res["render_share"] = render / total if total else 0.0
        st.sort_stats("cumulative").print_stats(40)
        st.sort_stats("tottime").print_stats(25)
        res["profile"] = s.getvalue()
    return res


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--residents", type=int, nargs="+", default=[25, 100, 1000])
    ap.add_argument("--10k", dest="ten_k", action="store_true", help="add 10,000 residents")
    ap.add_argument("--hours", type=float, default=2.0)
    ap.add_argument("--no-skills", action="store_true")
    ap.add_argument("--profile", type=int, default=None, metavar="N")
    ap.add_argument("--profile-out", default=None, metavar="FILE",
                    help="also keep the profile's stats (pstats) in FILE")
    ap.add_argument("--one", nargs=2, metavar=("WORLD", "OUT"), help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.one:
        res = one(args.one[0], args.hours, args.one[1], not args.no_skills,
                  args.profile is not None, args.profile_out)
        print(json.dumps(res))
        return
    from agentsim.world.generate import generate, write

    print("$ python benchmarks/bench_scale.py " + " ".join(sys.argv[1:]))
    sizes = [args.profile] if args.profile else args.residents + ([10000] if args.ten_k else [])
    print(f"{'residents':>9} {'places':>6} {'ticks':>5} {'wall s':>8} {'CPU s':>8} "
          f"{'CPU ms/step':>11} {'sandbox CPU s':>13} {'engine ms/step':>14} "
          f"{'wall ms/step':>12} {'peak RSS MB':>11} {'run dir MB':>10} "
          f"{'LLM calls':>9} {'skill runs':>10} {'sandbox ms/run':>14}")
    for n in sizes:
        with tempfile.TemporaryDirectory(prefix="agentsim-scale-") as tmp:
            world = generate(n, seed=0)
            wdir = write(world, Path(tmp) / "world")
            cmd = [sys.executable, __file__, "--one", str(wdir), str(Path(tmp) / "runs"),
                   "--hours", str(args.hours)]
            if args.no_skills:
                cmd.append("--no-skills")
            if args.profile:
                cmd += ["--profile", str(n)]
            if args.profile_out:
                cmd += ["--profile-out", str(Path(args.profile_out).resolve())]
            proc = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT)
            if proc.returncode != 0:
                sys.exit(f"{n} residents failed:\n{proc.stderr[-3000:]}")
            r = json.loads(proc.stdout.strip().splitlines()[-1])
            print(f"{r['residents']:>9} {len(world.places.ids()):>6} {r['ticks']:>5} "
                  f"{r['wall_s']:>8.1f} {r['cpu_s']:>8.1f} {r['cpu_ms_per_step']:>11.2f} "
                  f"{r['children_cpu_s']:>13.1f} {r['engine_ms_per_step']:>14.2f} "
                  f"{r['wall_ms_per_step']:>12.2f} {r['peak_rss_mb']:>11.0f} "
                  f"{r['run_dir_mb']:>10.1f} {r['llm_calls']:>9} {r['skill_runs']:>10} "
                  f"{r['sandbox_ms_per_run']:>14.2f}", flush=True)
            if "profile" in r:
                print(r["profile"])
                print(f"prompt rendering: {100 * r['render_share']:.1f} % of profiled time")


if __name__ == "__main__":
    main()
