"""Progress on the terminal: for one headless run, a rich progress bar and one line per
sim-hour; for a sweep, a bar per run (`SweepBars`, fed by the runs through a queue)."""

from __future__ import annotations

import contextlib
import multiprocessing
from collections import Counter
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, TextColumn, TimeElapsedColumn
from rich.progress import Progress as RichProgress

from agentsim.events import Conversation, Event, PlanMade, Reflected, SkillUsed, TickEnded
from agentsim.experiment import Simulation
from agentsim.skills.wall import sandbox_notice


class Progress:
    def __init__(self, sim: Simulation, total_ticks: int, console: Console | None = None):
        self.sim = sim
        self.console = console or Console(stderr=True, soft_wrap=True)
        self.total = total_ticks
        self.hour: Counter[str] = Counter()
        self.bar = RichProgress(
            TextColumn("[bold]{task.fields[now]}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("ticks"),
            TimeElapsedColumn(),
            console=self.console,
            transient=True,
        )
        self.task = self.bar.add_task("run", total=total_ticks, now="")
        self._unsubscribe = sim.bus.subscribe(self._on_event)

    def start(self) -> None:
        llm = self.sim.llm.describe()
        self.console.print(f"[bold]agentsim[/] {self.sim.world.spec.name}: "
                           f"{len(self.sim.agents)} agents, seed {self.sim.seed}, "
                           f"LLM: {llm.get('summary', llm)}")
        if llm.get("offline"):
            self.console.print("[yellow]No LLM configured: running on the built-in offline mind "
                               "(rule-based stand-in). Use --llm to use a model.[/]")
        elif llm.get("fallback") == "offline":
            self.console.print("A call the model cannot answer is answered by the offline mind "
                               "and counted as a fallback (--fallback stop: stop instead).",
                               highlight=False)
        notice = sandbox_notice(self.sim.skills is not None,
                                self.sim.settings.allow_unsandboxed_skills)
        if notice:
            self.console.print(f"[yellow]Skills: {notice}[/]", highlight=False)
        self.bar.start()

    def stop(self) -> None:
        self.bar.stop()
        self._unsubscribe()

    def _on_event(self, e: Event) -> None:
        if isinstance(e, SkillUsed) and not e.ok and e.error_kind != "critique":
            # the sandbox stopped it: a line of its own, not only in events.jsonl
            name = self.sim.agents[e.agent].name if e.agent in self.sim.agents else e.agent
            what = "stopped by the sandbox" if e.error_kind in ("forbidden", "timeout",
                                                                 "memory") else "failed"
            self.bar.console.print(f"[yellow]{e.time:%a %H:%M} | {name}'s skill {e.skill} "
                                   f"{what} ({e.error_kind}): {e.error}[/]", highlight=False,
                                   markup=True)
        elif isinstance(e, Conversation):
            self.hour["conversations"] += 1
        elif isinstance(e, Reflected):
            self.hour["reflections"] += 1
        elif isinstance(e, PlanMade) and e.level == "revised":
            self.hour["revised"] += 1
        elif isinstance(e, TickEnded):
            self.bar.update(self.task, advance=1, now=f"{e.time:%a %H:%M}")
            nxt = self.sim.clock.at(e.tick + 1)
            if nxt.minute < self.sim.world.spec.tick_minutes:
                self._hour_line(e, nxt.replace(minute=0, second=0, microsecond=0))

    def _hour_line(self, e: TickEnded, hour: datetime) -> None:
        """The line for the sim-hour that ends at `hour` (stamped with the hour, not with the
        start of its last tick)."""
        places = self.sim.world.places
        where = Counter(places.name(places.area_of(a.location))
                        for a in self.sim.agents.values() if a.awake)
        busiest = ", ".join(f"{p} {n}" for p, n in where.most_common(3)) or "all asleep"
        calls = self.sim.llm.usage.total
        llm = f" | {calls.calls} LLM calls"
        if calls.model_share is not None:
            from agentsim.llm.accounting import share_text

            fell = calls.origins.get("fallback", 0)
            llm += f" ({share_text(calls.model_share)} model" + \
                (f", {fell} fallbacks)" if fell else ")")
        self.bar.console.print(
            f"{hour:%a %H:%M} | {e.awake:2d} awake | {busiest} | "
            f"{self.hour['conversations']} talks, {self.hour['revised']} plans revised, "
            f"{self.hour['reflections']} insights{llm}"
        )
        self.hour.clear()

    def origins_lines(self) -> None:
        """Who answered: loud (red) when the model gave under the run's minimum share of the
        answers meant for it, yellow when the offline mind answered any as a fallback."""
        from agentsim.llm.accounting import share_text, share_warning
        from agentsim.options import min_share

        usage = self.sim.llm.usage
        t = usage.total
        if t.model_share is None:
            return
        warning = share_warning(usage, min_share(self.sim.options))
        if warning:
            self.console.print(f"[bold red]Warning: {warning}.[/]", highlight=False)
            return
        fell = t.origins.get("fallback", 0)
        if fell:
            self.console.print(
                f"[yellow]The model answered {share_text(t.model_share)} of the LLM calls; "
                f"{fell} were answered by the offline mind as a fallback (see the fallbacks "
                "column).[/]", highlight=False)
        else:
            self.console.print(f"The model answered all {t.model_answers} LLM calls meant for "
                               "it.", highlight=False)

    def summary(self, run_path: Path) -> None:
        c = self.console
        sim = self.sim
        if sim.stopped:
            c.print(f"[yellow]Stopped: {sim.stopped}[/]")
        c.print(sim.llm.usage.table())
        self.origins_lines()
        c.print(f"Run saved to [bold]{run_path}[/] ({sim.clock.tick} ticks, "
                f"until {sim.clock.now:%a %b %d %H:%M}).")
        c.print(f"  resume:    agentsim run --resume {run_path} --hours 4")
        first = next((a.name for a in sim.agents.values()), "NAME")  # a resident of this world
        c.print(f"  interview: agentsim interview {run_path} \"{first}\" "
                f"\"What are you planning?\"")


class SweepBars:
    """A bar per run of a sweep (ticks done of the run's ticks), on stderr. Workers report
    through a queue (`report(key, done, total)` messages); a run that ends is marked ok or
    failed. Shown only on a terminal: piped or logged output gets none of it."""

    def __init__(self, runs: list[tuple[Any, str]], console: Console | None = None,
                 show: bool | None = None):
        self.console = console or Console(stderr=True)
        self.show = self.console.is_terminal if show is None else show
        self.bar = RichProgress(
            TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
            TextColumn("{task.fields[status]}"), TimeElapsedColumn(),
            console=self.console, disable=not self.show)
        self.ids = {key: self.bar.add_task(label, total=None, status="waiting")
                    for key, label in runs}

    def __enter__(self) -> SweepBars:
        self.bar.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.bar.stop()

    def ticked(self, key: Any, done: int, total: int) -> None:
        self.bar.update(self.ids[key], completed=done, total=max(total, done),
                        status="running")

    def ended(self, key: Any, error: str | None) -> None:
        task = next(t for t in self.bar.tasks if t.id == self.ids[key])
        total = task.total or 1
        self.bar.update(self.ids[key], completed=total, total=total,
                        status="[green]done[/]" if error is None else "[red]failed[/]")

    def drain(self, queue: Any, stop: Any) -> None:
        """Apply the workers' messages until `stop` (a threading.Event) is set and the queue
        is empty; run in a thread of the sweeping process."""
        import queue as queues

        while True:
            try:
                key, done, total = queue.get(timeout=0.1)
            except queues.Empty:
                if stop.is_set():
                    return
                continue
            except (EOFError, OSError):  # the manager went away: nothing more will come
                return
            if key in self.ids:
                self.ticked(key, done, total)


def report_ticks(sim: Simulation, task: dict[str, Any]) -> None:
    """Tell the sweeping process (through the task's queue) each tick this run has done, for
    its bar. Only reads events: the run is the same with or without it."""
    queue, key, first = task["progress"], (task["cell"], task["seed"]), sim.clock.tick
    total = task["ticks"] or round(task["hours"] * 60 / sim.world.spec.tick_minutes)
    queue.put((key, 0, total))
    sim.bus.subscribe(lambda e: isinstance(e, TickEnded)
                      and queue.put((key, e.tick + 1 - first, total)))


@contextlib.contextmanager
def tick_queue(bars: SweepBars, in_process: bool) -> Iterator[Any]:
    """A queue the runs report their ticks to, drained into `bars` by a thread; None (and no
    manager process) when no bar is shown."""
    if not bars.show:
        yield None
        return
    import queue as queues
    import threading

    manager = None if in_process else multiprocessing.get_context("spawn").Manager()
    q = queues.Queue() if manager is None else manager.Queue()
    stop = threading.Event()
    drain = threading.Thread(target=bars.drain, args=(q, stop), daemon=True)
    drain.start()
    try:
        yield q
    finally:
        stop.set()
        drain.join()
        if manager is not None:
            manager.shutdown()
