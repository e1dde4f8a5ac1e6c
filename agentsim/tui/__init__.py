"""The terminal UI (Textual). Imported only when a TUI is opened, never by `import agentsim`.

    run_tui(sim, total_ticks)   watch, steer and question a live simulation (AgentsimApp)
    replay_tui(run_path)        step back and forth through a finished run (ReplayApp)
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from agentsim.experiment import Simulation
    from agentsim.world.loader import WorldDef

__all__ = ["replay_tui", "run_tui"]


def run_tui(sim: Simulation, total_ticks: int | None, speed: float = 1.0) -> None:
    """Run `sim` for `total_ticks` more ticks (None: until quit) in the live view."""
    from agentsim.tui.app import AgentsimApp

    AgentsimApp(sim, total_ticks, speed).run()


def replay_tui(run_path: str | Path) -> None:
    """Open the run directory `run_path` (runs/<id>) and step through its events."""
    from agentsim.rundir import RunDir
    from agentsim.tui.replay import ReplayApp

    rd = RunDir.open(run_path)
    ReplayApp(rd.read_events(), run_world(rd.read_manifest())).run()


def run_world(manifest: dict) -> WorldDef:
    """The world a run was made in (see `agentsim.rundir.world_of`)."""
    from agentsim.rundir import world_of

    return world_of(manifest)
