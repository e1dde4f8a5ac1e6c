"""Checkpoints as a subscriber of the tick's events, not a step of the tick.

A run directory gets the world's state after every `every`-th TickEnded (published once the
clock has moved on) and on RunStopped. A half-stepped world (`mid_tick`: Ctrl-C or a halt in
the middle of a tick) is never saved: the last checkpoint stands, and a resume starts there.
"""

from __future__ import annotations

from collections.abc import Callable

from agentsim.engine import Engine
from agentsim.events import Event, RunStopped, TickEnded
from agentsim.rundir import RunDir


def save_checkpoint(sim: Engine, run_dir: RunDir) -> None:
    """Save `sim` to `run_dir` now, unless the world is half-stepped."""
    if sim.mid_tick:  # a half-stepped world (Ctrl-C, a halt): the last checkpoint stands
        return
    state, arrays = sim.get_state()
    # events.jsonl and llm.jsonl flushed to disk and their sizes kept: the checkpoint and
    # the two logs are one unit, which a resume cuts back to (RunDir.resume_point)
    state.update(run_dir.sync_logs())
    # a Simulation's run options say how many checkpoints to keep (a bare Engine: all)
    keep = getattr(getattr(sim, "options", None), "keep_checkpoints", 0)
    run_dir.save_checkpoint(sim.clock.tick, state, arrays, keep=keep)
    if sim.skills is not None:  # the run's library, readable by `agentsim skills RUN`
        sim.skills.write_jsonl(run_dir.path / "skills.jsonl")


class Checkpointer:
    """Subscribe one to the bus after the run directory's own event log: on TickEnded the log
    is flushed and, every `every()` ticks, the state saved; on RunStopped (not a halt) too."""

    def __init__(self, sim: Engine, run_dir: RunDir, every: Callable[[], int]):
        self.sim, self.run_dir, self.every = sim, run_dir, every

    def __call__(self, e: Event) -> None:
        if isinstance(e, TickEnded):
            self.run_dir.flush()
            if self.sim.clock.tick % self.every() == 0:
                save_checkpoint(self.sim, self.run_dir)
        elif isinstance(e, RunStopped) and not self.sim.halted:
            save_checkpoint(self.sim, self.run_dir)
