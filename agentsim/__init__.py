"""agentsim: simulate societies of LLM-driven generative agents.

`import agentsim` stays light: heavy packages (torch, chromadb, openai, textual) load lazily.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"
__all__ = ["Simulation", "__version__", "sweep"]

if TYPE_CHECKING:
    from agentsim.experiment import Simulation
    from agentsim.sweeps import sweep


def __getattr__(name: str) -> Any:
    if name == "Simulation":
        from agentsim.experiment import Simulation

        return Simulation
    if name == "sweep":
        from agentsim.sweeps import sweep

        return sweep
    raise AttributeError(f"module 'agentsim' has no attribute {name!r}")
