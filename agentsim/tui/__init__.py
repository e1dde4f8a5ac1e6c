"""The terminal UI (Textual). Imported only when a TUI is opened, never by `import agentsim`."""

from __future__ import annotations

from agentsim.engine import Simulation


def run_tui(sim: Simulation, total_ticks: int | None) -> None:
    from agentsim.tui.app import AgentsimApp

    AgentsimApp(sim, total_ticks).run()
