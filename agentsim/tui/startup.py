"""What the first tick is doing, for the line the live view shows until that tick is drawn.

The first tick of a run is the slow one: the embedding model loads, the residents' seed
memories are embedded, and the residents who wake write their first plans. None of that
publishes an event until the tick ends, so the line is read from the state that moves while
it happens: whether the embedder has its model (`loaded`), how many residents have memories
yet, how many have a plan for the day, and the LLM's call count. No Textual here.
"""

from __future__ import annotations

from typing import Any

from agentsim.experiment import Simulation
from agentsim.tui.runner import Runner


def embedder_loading(embedder: Any) -> bool:
    """True while an embedder (or one it wraps, through `.inner`) still loads its model."""
    seen = 0
    while embedder is not None and seen < 8:  # a wrapper chain, never a cycle in practice
        if getattr(embedder, "loaded", True) is False:
            return True
        embedder, seen = getattr(embedder, "inner", None), seen + 1
    return False


def startup_line(sim: Simulation, runner: Runner) -> str | None:
    """What the run is busy with before its first tick is shown; None once a tick has ended,
    the run has stopped, or no tick is in flight (paused at the start: nothing to wait for)."""
    if runner.ticks_done or runner.finished or not runner.busy:
        return None
    agents = sim.agents.values()
    calls = sim.llm.usage.total.calls
    llm = f" · {calls:,} LLM calls so far" if calls else ""
    if embedder_loading(sim.embedder):
        name = getattr(sim.embedder, "name", "the embedder")
        return f"Loading the embedding model ({name})… (once per session; it takes a while)"
    remembering = sum(1 for a in agents if len(a.memory))
    if remembering < len(sim.agents):
        return f"Embedding the residents' memories ({remembering}/{len(sim.agents)})…{llm}"
    if sim.clock.tick:
        return f"Running the first tick since the resume…{llm}"
    awake = sum(1 for a in agents if a.awake)
    if not awake:
        return f"Waking the residents…{llm}"
    planned = sum(1 for a in agents if a.awake and a.day_plan)
    return (f"Writing first plans ({planned}/{awake} awake; "
            f"{len(sim.agents) - awake} still asleep)…{llm}")
