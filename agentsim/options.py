"""What a run was asked for: the options a CLI run, `Simulation.load` and a run's manifest
share. Validated when built (pydantic): a bad number from Python is a one-line `UserError`
naming the field (`RunOptions.hours: ...`), as the CLI's own checks are for its flags."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from agentsim.errors import invalid

INHERITED = "skills_inherited.jsonl"  # the learned skills a run started from (--skills-from)


class RunOptions(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=True)

    world: str | None = None
    hours: float | None = Field(None, gt=0, allow_inf_nan=False)
    ticks: int | None = Field(None, ge=1)
    seed: int = Field(0, ge=0)
    llm: str | None = None
    llm_config: str | None = None
    embedder: str = "minilm"
    # CPU threads for the embedding model (None: $AGENTSIM_EMBED_THREADS, else 1)
    embed_threads: int | None = Field(None, ge=1)
    out: str | None = "runs"
    resume: str | None = None
    replay: str | None = None
    max_in_flight: int | None = Field(None, ge=1)
    budget_calls: int | None = Field(None, ge=0)
    budget_tokens: int | None = Field(None, ge=0)
    budget_usd: float | None = Field(None, ge=0, allow_inf_nan=False)
    # seconds with no LLM answer: stop (None: default)
    give_up_after: float | None = Field(None, ge=0, allow_inf_nan=False)
    give_up_failures: int | None = Field(None, ge=0)  # LLM calls in a row failed: stop
    # a call the model could not answer: "offline" (the offline mind answers it, counted as a
    # fallback) or "stop" (the run stops at its last checkpoint); None: [llm] fallback, else
    # stop for a model
    fallback: Literal["offline", "stop"] | None = None
    # below this share of model answers a run warns loudly (None: MIN_MODEL_SHARE, 0.5)
    min_model_share: float | None = Field(None, ge=0, le=1)
    checkpoint_every: int = Field(6, ge=1)
    keep_checkpoints: int = Field(3, ge=0)  # the newest N checkpoints kept (0: all)
    headless: bool = True
    cache: str | None = None
    skills: bool = True  # hand tasks to the skill library (seed skills in worlds/<w>/skills/)
    # the learned skills a run starts from besides the world's seed skills: a run directory
    # (its skills.jsonl) or a library file (JSON lines); None: the seed skills only
    skills_from: str | None = None
    # where a run's learned skills are merged when it ends, for a later --skills-from: "auto"
    # is <out>/skill_library/<world>.jsonl; None: nowhere. Never read implicitly.
    skill_library: str | None = "auto"
    allow_unsandboxed_skills: bool = False  # model-written skills without the sandbox's wall
    # residents split over this many Ray actors (agentsim.distributed), on the Ray cluster at
    # ray_address (None: a local Ray instance, or the one already started)
    shards: int = Field(1, ge=1)
    ray_address: str | None = None

    def __init__(self, **values: Any) -> None:
        try:
            super().__init__(**values)
        except ValidationError as e:
            raise invalid(e, "RunOptions") from None

    @classmethod
    def from_saved(cls, saved: dict, **override: object) -> RunOptions:
        """The options a run directory's manifest recorded (keys this version does not know
        dropped), with `override` on top."""
        known = cls.model_fields
        return cls(**{**{k: v for k, v in saved.items() if k in known}, **override})


def min_share(opts: RunOptions | None) -> float:
    """The model share under which a run warns."""
    from agentsim.llm.accounting import MIN_MODEL_SHARE

    share = opts.min_model_share if opts is not None else None
    return MIN_MODEL_SHARE if share is None else share


def shared_library_path(opts: RunOptions, world_path: Path) -> Path | None:
    """Where this run's learned skills are merged when it ends, if anywhere (written only:
    a run reads learned skills only from `skills_from`)."""
    if not opts.skills or not opts.skill_library:
        return None
    if opts.skill_library != "auto":
        return Path(opts.skill_library)
    return Path(opts.out) / "skill_library" / f"{world_path.name}.jsonl" if opts.out else None
