"""A run directory's manifest.json: what the run was (world, seed, options, LLM, embedder) and,
once it ends, how far it got and who answered its LLM calls."""

from __future__ import annotations

import platform
from pathlib import Path
from typing import TYPE_CHECKING, Any

from agentsim import __version__
from agentsim.llm.base import LLM
from agentsim.options import RunOptions, min_share
from agentsim.rundir import RunDir

if TYPE_CHECKING:
    from agentsim.experiment import Simulation


def manifest(sim: Simulation, opts: RunOptions, embedder: str,
             **extra: Any) -> dict[str, Any]:
    """The manifest of a built run; `embedder`: the embedder's name. `skills_from`: the
    learned skills the run started from (source, count, sha256 of their canonical JSON), or
    None for the world's seed skills only."""
    return {
        "agentsim": __version__,
        "python": platform.python_version(),
        "world": {"name": sim.world.spec.name, "path": str(sim.world.path)},
        "seed": sim.seed,
        "options": opts.model_dump(),
        "llm": sim.llm.describe(),
        "embedder": embedder,
        "agents": len(sim.agents),
        "skills_from": sim.starting_skills,
        **extra,
    }


def first_manifest(opts: RunOptions, world_path: Path, **extra: Any) -> dict[str, Any]:
    """The manifest a run directory gets first, before anything slow (building the LLM, the
    embedder, the knowledge index), so a run killed early can still be resumed."""
    return {
        "agentsim": __version__,
        "python": platform.python_version(),
        "world": {"name": world_path.name, "path": str(world_path)},
        "seed": opts.seed,
        "options": opts.model_dump(),
        **extra,
    }


def origins_summary(llm: LLM, minimum: float) -> dict[str, Any]:
    """Who answered the run's LLM calls, for the manifest: the model's share of the answers
    meant for it (None: none was, e.g. on the offline mind), how many the offline mind
    answered as a fallback, and a warning when the share is under `minimum`."""
    from agentsim.llm.accounting import share_warning

    usage = llm.usage
    t = usage.total
    share = t.model_share
    return {"model_share": None if share is None else round(share, 4),
            "fallbacks": t.origins.get("fallback", 0),
            "model_share_warning": share_warning(usage, minimum)}


def finish_manifest(sim: Simulation, run_dir: RunDir, opts: RunOptions, embedder: str,
                    target: int) -> None:
    """The manifest once a run ends: its target and reached tick, why it stopped, its event
    counts and its LLM usage."""
    counts: dict[str, int] = {}
    for e in sim.events:
        counts[e.type] = counts.get(e.type, 0) + 1
    run_dir.write_manifest(manifest(
        sim, opts, embedder, target_tick=target, ticks=sim.clock.tick,
        sim_time=sim.clock.now.isoformat(), stopped=sim.stopped, events=counts,
        llm_usage=sim.llm.usage.summary(), **origins_summary(sim.llm, min_share(opts)),
    ))
