"""The terminal UI (Textual). Imported only when a TUI is opened, never by `import agentsim`.

    run_tui(sim, total_ticks)   watch, steer and question a live simulation (AgentsimApp)
    replay_tui(run_path)        step back and forth through a finished run (ReplayApp)
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from agentsim.engine import Simulation
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
    """The world a run was made in: its recorded path, else the world option (or a bundled
    world of that name)."""
    from agentsim.errors import UserError
    from agentsim.resources import resolve_world
    from agentsim.world.loader import load_world

    recorded = manifest.get("world", {})
    candidates = [recorded.get("path"), manifest.get("options", {}).get("world"),
                  recorded.get("name", "").lower()]
    for c in filter(None, candidates):
        path = resolve_world(c)
        if path.is_dir():
            return load_world(path)
    raise UserError(f"cannot find the world of this run (tried {candidates})", field="world")
