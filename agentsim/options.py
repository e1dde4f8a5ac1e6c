"""What a run was asked for: the options a CLI run, `Simulation.load` and a run's manifest
share. Plain data: reading it imports nothing heavy."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

INHERITED = "skills_inherited.jsonl"  # the learned skills a run started from


@dataclass
class RunOptions:
    world: str | None = None
    hours: float | None = None
    ticks: int | None = None
    seed: int = 0
    llm: str | None = None
    llm_config: str | None = None
    embedder: str = "minilm"
    out: str | None = "runs"
    resume: str | None = None
    replay: str | None = None
    max_in_flight: int | None = None
    budget_calls: int | None = None
    budget_tokens: int | None = None
    budget_usd: float | None = None
    give_up_after: float | None = None  # seconds with no LLM answer: stop (None: default)
    give_up_failures: int | None = None  # LLM calls in a row failed: stop (None: default)
    # a call the model could not answer: "offline" (the offline mind answers it, counted as a
    # fallback) or "stop" (the run stops at its last checkpoint); None: [llm] fallback, else
    # offline
    fallback: str | None = None
    # below this share of model answers a run warns loudly (None: MIN_MODEL_SHARE, 0.5)
    min_model_share: float | None = None
    checkpoint_every: int = 6
    headless: bool = True
    cache: str | None = None
    skills: bool = True  # hand tasks to the skill library (seed skills in worlds/<w>/skills/)
    # learned skills shared across runs: "auto" is <out>/skill_library/<world>.jsonl; None: none
    skill_library: str | None = "auto"
    allow_unsandboxed_skills: bool = False  # model-written skills without the sandbox's wall

    @classmethod
    def from_saved(cls, saved: dict, **override: object) -> RunOptions:
        """The options a run directory's manifest recorded (keys this version does not know
        dropped), with `override` on top."""
        known = cls.__dataclass_fields__
        return cls(**{**{k: v for k, v in saved.items() if k in known}, **override})


def min_share(opts: RunOptions | None) -> float:
    """The model share under which a run warns."""
    from agentsim.llm.accounting import MIN_MODEL_SHARE

    share = opts.min_model_share if opts is not None else None
    return MIN_MODEL_SHARE if share is None else share


def shared_library_path(opts: RunOptions, world_path: Path) -> Path | None:
    """Where the learned skills of this world persist across runs, if anywhere."""
    if not opts.skills or not opts.skill_library:
        return None
    if opts.skill_library != "auto":
        return Path(opts.skill_library)
    return Path(opts.out) / "skill_library" / f"{world_path.name}.jsonl" if opts.out else None
