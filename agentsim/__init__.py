"""agentsim: simulate societies of LLM-driven generative agents.

The public API is what `__all__` names: `Simulation` (load a world, run it, intervene,
interview, fork, measure), `Settings` (the cognition settings a run uses, validated),
`RunOptions` (what a run is asked for), `sweep` and `SweepResult` (many runs over a grid and
seeds), `Answer` (an interview's answer), `UserError` (bad input: one line naming the field)
and `LLMUnavailable` (the model server is gone). Everything else is internal, whatever its
name. `import agentsim` stays light: heavy packages (torch, chromadb, openai, textual) load
when a name that needs them is first used.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from agentsim.errors import LLMUnavailable, UserError

__version__ = "0.1.0"
__all__ = ["Answer", "LLMUnavailable", "RunOptions", "Settings", "Simulation", "SweepResult",
           "UserError", "__version__", "sweep"]

if TYPE_CHECKING:
    from agentsim.cognition.context import Settings
    from agentsim.cognition.interview import Answer
    from agentsim.experiment import Simulation
    from agentsim.options import RunOptions
    from agentsim.sweeps import SweepResult, sweep

# name -> the module it is loaded from on first use
_LAZY = {
    "Simulation": "agentsim.experiment",
    "Settings": "agentsim.cognition.context",
    "RunOptions": "agentsim.options",
    "Answer": "agentsim.cognition.interview",
    "sweep": "agentsim.sweeps",
    "SweepResult": "agentsim.sweeps",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'agentsim' has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(module), name)
    globals()[name] = value  # the next lookup does not come here
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
