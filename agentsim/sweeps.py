"""Parameter sweeps: every cell of a grid × every seed, run in parallel, one table back.

    result = agentsim.sweep("worlds/smallville", grid={"weights": [(1, 1, 1), (1, 1, 3)]},
                            seeds=[0, 1, 2], hours=6)
    result.summary      # one row per cell and measure: mean, std, n, 95 % CI
    result.runs         # one row per run: the cell's parameters, the seed, the measures, its dir

Runs go to local processes (spawn) by default, or to Ray when `backend="ray"` (or "auto" with
Ray installed and `ray.init()` already called, or an address given): a run is a pure function
of (world, parameters, seed, hours), so both give the same numbers. Each run keeps its own run
directory under `out/`. A run that fails leaves its error in its row; the sweep goes on.

Worker processes are started with "spawn": a script that calls `sweep` must do so under
`if __name__ == "__main__":`. A `measure` is any picklable function
`Simulation -> dict[str, float]` (defined at module level, so that processes and Ray workers can
import it); `default_measures` is used when none is given.
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import math
import os
import statistics
import traceback
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from concurrent.futures import ProcessPoolExecutor
from datetime import datetime
from multiprocessing import get_context
from pathlib import Path
from typing import TYPE_CHECKING, Any

from agentsim.errors import UserError
from agentsim.sweep_grid import SETTINGS, apply, cells, parse_grid

__all__ = ["SETTINGS", "SweepResult", "cells", "default_measures", "mean_ci", "parse_grid",
           "summarize", "sweep", "t_quantile"]

if TYPE_CHECKING:
    import pandas as pd

    from agentsim.experiment import Simulation
    from agentsim.progress import SweepBars

Measure = Callable[["Simulation"], Mapping[str, float]]

# Two-sided 95 % Student t quantiles for 1-30 degrees of freedom.
_T975 = (12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228, 2.201, 2.179,
         2.160, 2.145, 2.131, 2.120, 2.110, 2.101, 2.093, 2.086, 2.080, 2.074, 2.069, 2.064,
         2.060, 2.056, 2.052, 2.048, 2.045, 2.042)


def t_quantile(p: float, df: int) -> float:
    """The Student t quantile: exact for p = 0.975 and df <= 30, otherwise the Cornish-Fisher
    expansion around the normal quantile (error < 0.5 % for df >= 5)."""
    if df < 1:
        raise ValueError("df must be >= 1")
    if abs(p - 0.975) < 1e-12 and df <= len(_T975):
        return _T975[df - 1]
    z = statistics.NormalDist().inv_cdf(p)
    return (z + (z**3 + z) / (4 * df) + (5 * z**5 + 16 * z**3 + 3 * z) / (96 * df**2)
            + (3 * z**7 + 19 * z**5 + 17 * z**3 - 15 * z) / (384 * df**3))


def mean_ci(values: Sequence[float], level: float = 0.95) -> tuple[float, float, int, float]:
    """(mean, sample std, n, half-width of the `level` confidence interval of the mean)."""
    xs = [float(v) for v in values if v is not None and not math.isnan(float(v))]
    n = len(xs)
    if n == 0:
        return math.nan, math.nan, 0, math.nan
    mean = statistics.fmean(xs)
    if n == 1:
        return mean, math.nan, 1, math.nan
    std = statistics.stdev(xs)
    return mean, std, n, t_quantile(1 - (1 - level) / 2, n - 1) * std / math.sqrt(n)


def default_measures(sim: Simulation) -> dict[str, float]:
    """What a sweep reports when no measure is given (see `agentsim.metrics`): how far each
    scheduled event's news spread (share of residents who know of it at the end),
    conversations and reflections per resident, and the relationship graph's density."""
    from agentsim.metrics import of_simulation

    m = of_simulation(sim)
    n = len(sim.agents)
    out: dict[str, float] = {}
    titles = {mem.event.title for p in sim.world.personas.values() for mem in p.memories
              if mem.event}
    for title in sorted(titles):
        d = m.diffusion(title)
        out[f"heard: {title}"] = float(d["share"].iloc[-1]) if len(d) else 0.0
    talks = m.conversations_per_agent()
    out["conversations per resident"] = float(talks.sum()) / n
    out["reflections per resident"] = sum(e.type == "reflected" for e in sim.events) / n
    g = m.relationship_graph()
    out["relationship density"] = g.number_of_edges() / (n * (n - 1)) if n > 1 else 0.0
    return out


# -- one run ----------------------------------------------------------------------------------
def run_one(task: dict[str, Any]) -> dict[str, Any]:
    """Run one (cell, seed) and measure it. Module level, so processes and Ray can call it."""
    from agentsim.experiment import Simulation
    from agentsim.progress import report_ticks

    row = _row(task)
    sim = None
    try:
        out = Path(task["out"]) / f"cell{task['cell']:03d}"
        # No shared skill library: a run must not depend on which runs finished before it.
        sim = Simulation.load(task["world"], seed=task["seed"], llm=task["llm"],
                   embedder=task["embedder"], out=str(out), skill_library=None)
        apply(sim, task["params"])
        if task.get("progress") is not None:
            report_ticks(sim, task)
        if sim.run_dir is not None:
            row["run_dir"] = str(sim.run_dir.path)
        sim.run(hours=task["hours"], ticks=task["ticks"])
        measure = task["measure"] or default_measures
        row.update({k: float(v) for k, v in measure(sim).items()})
        row["error"] = None
    except Exception as e:  # one failed run is a row with its error, not a failed sweep
        row["error"] = f"{type(e).__name__}: {e}"
        row["traceback"] = traceback.format_exc(limit=5)
    finally:
        if sim is not None:
            sim.close()
    return row


# -- the sweep --------------------------------------------------------------------------------
@dataclasses.dataclass
class SweepResult:
    runs: pd.DataFrame
    summary: pd.DataFrame
    out: Path
    backend: str

    def table(self) -> str:
        """The summary as text: one line per cell and measure."""
        s = self.summary
        if s.empty:
            return "(no successful runs)"
        lines = []
        for _, r in s.iterrows():
            params = ", ".join(f"{k}={_show(r[k])}" for k in self.params)
            ci = "" if math.isnan(r["ci95"]) else f" ± {r['ci95']:.3f}"
            lines.append(f"{params or '(defaults)'}  {r['measure']}: {r['mean']:.3f}{ci} "
                         f"(n={r['n']})")
        return "\n".join(lines)

    @property
    def params(self) -> list[str]:
        return [c for c in self.summary.columns
                if c not in ("cell", "measure", "mean", "std", "n", "ci95")]

    def save(self) -> None:
        self.runs.to_csv(self.out / "runs.csv", index=False)
        self.summary.to_csv(self.out / "summary.csv", index=False)

    def plot(self, measure: str, path: str | Path | None = None) -> Path:
        """A bar per cell with its 95 % CI for one measure, as a PNG."""
        from agentsim.sweep_summary import plot_measure

        path = Path(path) if path else self.out / f"{_slug(measure)}.png"
        return plot_measure(self.summary, self.params, measure, path, _show)


def _show(v: Any) -> str:
    if isinstance(v, tuple):
        return ":".join(f"{x:g}" for x in v)
    return f"{v:g}" if isinstance(v, float) else str(v)


def _slug(text: str) -> str:
    return "".join(c if c.isalnum() else "_" for c in text).strip("_").lower() or "measure"


def summarize(runs: pd.DataFrame, params: Sequence[str]) -> pd.DataFrame:
    """One row per cell and measure: mean, sample std, n and the 95 % CI half-width (a
    `Summary`: a DataFrame that prints whole)."""
    from agentsim.sweep_summary import Summary

    skip = {"cell", "seed", "run_dir", "error", "traceback", *params}
    ok = runs[runs["error"].isna()] if "error" in runs else runs
    measures = [c for c in runs.columns if c not in skip]
    rows = []
    for cell, group in ok.groupby("cell", sort=True):
        first = group.iloc[0]
        for m in measures:
            mean, std, n, ci = mean_ci(group[m].tolist())
            rows.append({"cell": cell, **{p: first[p] for p in params}, "measure": m,
                         "mean": mean, "std": std, "n": n, "ci95": ci})
    return Summary(rows, columns=["cell", *params, "measure", "mean", "std", "n", "ci95"])


def sweep(
    world: str,
    grid: Mapping[str, Iterable[Any]] | None = None,
    seeds: Sequence[int] = (0,),
    *,
    hours: float | None = None,
    ticks: int | None = None,
    measure: Measure | None = None,
    out: str | Path | None = None,
    workers: int | None = None,
    backend: str = "auto",
    ray_address: str | None = None,
    llm: str = "offline",
    embedder: str = "minilm",
    progress: bool | None = None,
) -> SweepResult:
    """Run every cell of `grid` with every seed, in parallel; see the module docstring.
    `progress`: a bar per run on stderr (default: when stderr is a terminal)."""
    import pandas as pd

    from agentsim.resources import resolve_world
    from agentsim.world.loader import load_world

    if (hours is None) == (ticks is None):
        raise UserError("give hours or ticks (one of them)", field="hours")
    if not seeds:
        raise UserError("no seeds", field="seeds")
    world_path = resolve_world(world)
    load_world(world_path)  # a bad world fails here, once, not in every run
    grid_cells = cells(grid)
    root = Path(out) if out else Path("runs") / f"sweep-{datetime.now():%Y%m%d-%H%M%S}"
    root.mkdir(parents=True, exist_ok=True)
    tasks = [{"cell": i, "params": params, "seed": int(seed), "world": str(world_path),
              "hours": hours, "ticks": ticks, "measure": measure, "llm": llm,
              "embedder": embedder, "out": str(root)}
             for i, params in enumerate(grid_cells) for seed in seeds]
    chosen = _backend(backend, ray_address)
    from agentsim.progress import SweepBars

    bars = SweepBars([((t["cell"], t["seed"]), _label(t)) for t in tasks], show=progress)
    with bars:
        rows = (_run_ray(tasks, ray_address, bars) if chosen == "ray"
                else _run_local(tasks, workers, bars))
    params = list(grid_cells[0])
    runs = pd.DataFrame(sorted(rows, key=lambda r: (r["cell"], r["seed"])))
    if "error" not in runs:
        runs["error"] = None
    result = SweepResult(runs, summarize(runs, params), root, chosen)
    result.save()
    return result


def _backend(backend: str, ray_address: str | None) -> str:
    if backend not in ("auto", "local", "ray"):
        raise UserError(f"unknown backend {backend!r} (auto, local or ray)", field="backend")
    if backend == "local":
        return "local"
    try:
        import ray
    except ImportError:
        if backend == "ray":
            raise UserError("Ray is not installed: pip install 'agentsim[ray]'",
                            field="backend") from None
        return "local"
    if backend == "ray" or ray_address or ray.is_initialized():
        return "ray"
    return "local"


def _label(task: dict[str, Any]) -> str:
    params = ", ".join(f"{k}={_show(v)}" for k, v in task["params"].items())
    return f"cell {task['cell']}{f' ({params})' if params else ''} seed {task['seed']}"


def _run_local(tasks: list[dict[str, Any]], workers: int | None,
               bars: SweepBars) -> list[dict[str, Any]]:
    """Every task in a pool of spawned processes, each run's ticks reported to its bar. A
    run that kills its worker process (a crash, os._exit, the kernel's OOM killer) breaks the
    pool: the runs that finished keep their rows, and the unfinished ones are retried one
    process each, so only the run that really dies becomes an error row."""
    from agentsim.progress import tick_queue

    _check_picklable(tasks)
    n = workers or min(os.cpu_count() or 1, len(tasks))
    with tick_queue(bars, in_process=n <= 1) as queue:
        tasks = [{**t, "progress": queue} for t in tasks]
        if n <= 1:
            rows = []
            for t in tasks:
                rows.append(run_one(t))
                bars.ended((t["cell"], t["seed"]), rows[-1].get("error"))
            return rows
        return _in_pool(tasks, n, bars)


def _in_pool(tasks: list[dict[str, Any]], n: int, bars: SweepBars) -> list[dict[str, Any]]:
    from concurrent.futures.process import BrokenProcessPool

    rows: list[dict[str, Any]] = []
    unfinished: list[dict[str, Any]] = []
    with ProcessPoolExecutor(max_workers=n, mp_context=get_context("spawn")) as pool:
        futures = [(pool.submit(run_one, t), t) for t in tasks]
        for future, task in futures:
            try:
                rows.append(future.result())
                bars.ended((task["cell"], task["seed"]), rows[-1].get("error"))
            except BrokenProcessPool:
                unfinished.append(task)
    died = []
    for task in unfinished:
        with ProcessPoolExecutor(max_workers=1, mp_context=get_context("spawn")) as alone:
            try:
                rows.append(alone.submit(run_one, task).result())
            except BrokenProcessPool:
                died.append(_died(task, "its worker process died (crashed or was killed)"))
            bars.ended((task["cell"], task["seed"]), (rows + died)[-1].get("error"))
        if died and not rows and len(died) >= min(2, len(tasks)):
            raise UserError("worker processes die before running anything: in a script, "
                            "call sweep() under `if __name__ == \"__main__\":` (workers "
                            "re-import it), or pass workers=1", field="workers")
    return rows + died


def _row(task: dict[str, Any]) -> dict[str, Any]:
    """The start of a task's row in the results: its cell, parameters and seed."""
    return {"cell": task["cell"], **task["params"], "seed": task["seed"]}


def _died(task: dict[str, Any], why: str) -> dict[str, Any]:
    return {**_row(task), "error": why}


def _run_ray(tasks: list[dict[str, Any]], address: str | None,
             bars: SweepBars) -> list[dict[str, Any]]:
    """Every task as a Ray task; one whose worker dies (retried once, as Ray does for lost
    workers) becomes an error row, and the other rows are kept. A run's bar fills when it
    ends (Ray workers report no ticks)."""
    import ray

    _check_picklable(tasks)
    if not ray.is_initialized():
        with quiet_ray_auth_warning():
            ray.init(address=address, include_dashboard=False, log_to_driver=False)
    remote = ray.remote(max_retries=1)(run_one)
    pending = {remote.remote(t): t for t in tasks}
    rows = []
    while pending:
        done, _ = ray.wait(list(pending), num_returns=1)
        task = pending.pop(done[0])
        try:
            rows.append(ray.get(done[0]))
        except ray.exceptions.RayError as e:
            first = (str(e).strip().splitlines() or [type(e).__name__])[0]
            rows.append(_died(task, f"{type(e).__name__} on Ray: {first}"))
        bars.ended((task["cell"], task["seed"]), rows[-1].get("error"))
    return rows


# Ray warns on every local start that token authentication is on (or off) for the cluster it
# starts: advice for whoever runs a shared cluster, noise to a user of a sweep on their own
# machine. Only that message is dropped; Ray's other warnings and errors still show.
_RAY_AUTH_LOGGER = "ray._private.authentication.authentication_token_setup"


def _not_token_auth(record: logging.LogRecord) -> bool:
    return not str(record.msg).startswith("Token authentication is")


@contextlib.contextmanager
def quiet_ray_auth_warning() -> Iterator[None]:
    """Drop Ray's token-authentication warning while Ray starts (see above)."""
    log = logging.getLogger(_RAY_AUTH_LOGGER)
    log.addFilter(_not_token_auth)
    try:
        yield
    finally:
        log.removeFilter(_not_token_auth)


def _check_picklable(tasks: list[dict[str, Any]]) -> None:
    import pickle

    measure = tasks[0]["measure"] if tasks else None
    if measure is None:
        return
    try:
        pickle.dumps(measure)
    except Exception:
        raise UserError(f"the measure {getattr(measure, '__name__', measure)!r} cannot be sent "
                        "to worker processes: define it at module level (not a lambda or a "
                        "nested function)", field="measure") from None
