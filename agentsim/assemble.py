"""Assembling the concrete pieces a run uses: the LLM client and its backends, the embedder,
the chromadb-backed knowledge base and skill library.

This is the one module that imports providers (`agentsim.llm.factory`, the embedders,
`agentsim.rag.store`, `agentsim.skills.library`); the core receives what it builds as plain
objects, and the facade (`agentsim.experiment`) turns them into a Simulation.
"""

from __future__ import annotations

import sys
from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from agentsim.cognition.context import Embed, Settings
from agentsim.engine import world_settings
from agentsim.errors import UserError
from agentsim.llm.base import LLM
from agentsim.options import INHERITED, RunOptions, shared_library_path
from agentsim.resources import resolve_world
from agentsim.rundir import RunDir
from agentsim.streams import streams
from agentsim.world.loader import WorldDef, load_world

if TYPE_CHECKING:
    from agentsim.rag.store import KnowledgeBase
    from agentsim.skills.library import Skill, SkillLibrary


@dataclass
class Parts:
    """What a Simulation is made of, built from a run's options."""

    world: WorldDef
    llm: LLM
    embed: Embed
    dim: int
    embedder: Any  # the embedder itself (its `name` goes in the manifest)
    knowledge: KnowledgeBase | None
    skills: SkillLibrary | None
    settings: Settings
    # the learned skills the run started from (the manifest's `skills_from`: source, count,
    # sha256), or None: the world's seed skills only
    skills_from: dict[str, Any] | None = None


def build(opts: RunOptions, run_dir: RunDir | None, replay_log: Path | None, *,
          check: bool = False, inherited: Path | None = None,
          fallback: str | None = None, llm: LLM | None = None,
          settings: Settings | Mapping[str, Any] | None = None,
          vectors_from: Path | None = None) -> Parts:
    """The parts of a run of `opts.world`: `llm` when given, else the client `opts` asks for
    (recording to, or replaying from, the run directory's LLM log). `settings`: a Settings as
    it is, or a mapping of fields on top of the world's settings (validated). The skill
    library starts from the world's seed skills plus the learned skills kept in `inherited`
    (by default the run directory's record of what it started from), or, with no run
    directory, those of `opts.skills_from`. `vectors_from`: a finished run's embeddings file,
    only read (an opened run: its memories hold their vectors, so torch never loads; a text
    no cache holds, e.g. an interview's question, is embedded by the numpy encoder); else
    the model starts loading in the background now, while the world and the first prompts
    are prepared."""
    world = load_world(resolve_world(opts.world))
    if llm is None:
        llm = _llm(opts, run_dir, replay_log, check, fallback)
    if vectors_from is not None:
        embedder, batcher = _embedder(opts, vectors_from, read_only=True)
    else:
        embedder, batcher = _embedder(opts, run_dir.embeddings if run_dir else None)
    _preload(llm)
    if vectors_from is None and hasattr(embedder.inner, "warm"):
        embedder.inner.warm()  # after _preload: the loader imports behind the import lock
    start = _start(opts, run_dir, inherited)
    if not isinstance(settings, Settings):
        settings = world_settings(world).replace(**dict(settings or {}))
    if opts.allow_unsandboxed_skills:
        settings = settings.replace(allow_unsandboxed_skills=True)
    return Parts(world=world, llm=llm, embed=batcher.embed, dim=embedder.dim, embedder=embedder,
                 knowledge=_knowledge(world, batcher.embed, embedder, run_dir),
                 skills=_skills(world, batcher.embed, embedder, opts, run_dir, start or []),
                 settings=settings,
                 skills_from=None if start is None else _record(opts, start))


def _start(opts: RunOptions, run_dir: RunDir | None,
           inherited: Path | None) -> list[Skill] | None:
    """The learned skills a run starts from, or None for the world's seed skills only."""
    if not opts.skills:
        return start_from(opts)  # None, or the error for --skills-from without skills
    from agentsim.skills.library import read_jsonl

    if inherited is None and run_dir is not None:
        inherited = run_dir.path / INHERITED
    if inherited is not None:
        return read_jsonl(inherited) if inherited.exists() else None
    return start_from(opts)


def _record(opts: RunOptions, start: list[Skill]) -> dict[str, Any]:
    from agentsim.skills.start import record

    return record(opts.skills_from, start)


def _llm(opts: RunOptions, run_dir: RunDir | None, replay_log: Path | None, check: bool,
         fallback: str | None) -> LLM:
    from agentsim.llm.factory import build_llm

    return build_llm(
        opts.llm,
        config_path=opts.llm_config,
        record_path=run_dir.llm_log if run_dir else None,
        replay_path=replay_log,
        max_in_flight=opts.max_in_flight,
        budget=(opts.budget_calls, opts.budget_tokens, opts.budget_usd),
        give_up=(opts.give_up_after, opts.give_up_failures),
        rng=streams(opts.seed).jitter(),
        check_reachable=check,
        cache_path=opts.cache,
        seed=streams(opts.seed).prompts,
        notify=(lambda note: print(f"agentsim: note: {note}", file=sys.stderr)) if check else None,
        fallback=fallback or opts.fallback,
    )


def _embedder(opts: RunOptions, cache: Path | None, *,
              read_only: bool = False) -> tuple[Any, Any]:
    from agentsim.memory.embed import BatchingEmbedder, make_embedder, make_lookup

    if opts.embedder not in ("minilm", "hash"):
        raise UserError(f"unknown embedder {opts.embedder!r} (minilm or hash)",
                        field="embedder")
    if read_only:
        inner = make_lookup(opts.embedder, cache)
    else:
        inner = make_embedder(opts.embedder, cache_path=cache, threads=opts.embed_threads)
    return inner, BatchingEmbedder(inner)


def _knowledge(world: WorldDef, embed: Embed, embedder: Any,
               run_dir: RunDir | None) -> KnowledgeBase | None:
    """The world's documents as a knowledge base: kept in the run directory (its one writer is
    this process), or in memory when there is none (e.g. interviewing a finished run, which
    may still be open in another process). Indexed on first use."""
    if not world.documents:
        return None
    from agentsim.rag.store import KnowledgeBase

    return KnowledgeBase.from_world(world, embed, embedder_name=embedder.name,
                                    path=run_dir.knowledge if run_dir else None)


def _skills(world: WorldDef, embed: Embed, embedder: Any, opts: RunOptions,
            run_dir: RunDir | None, start: list[Skill]) -> SkillLibrary | None:
    """The skill library: the world's seed skills, then the learned skills this run starts
    from (`--skills-from` when a run starts, the run's own record of them when it is resumed,
    replayed or opened). Its chromadb index lives in the run directory (one writer: this
    process), or in memory."""
    if not opts.skills:
        return None

    from agentsim.skills.library import SkillLibrary, load_seed_skills

    seeds = load_seed_skills(world.path / "skills", world.path)
    lib = SkillLibrary(embed, embedder_name=embedder.name,
                       path=run_dir.path / "skills" if run_dir else None)
    lib.extend(seeds)
    lib.extend(replace(s, uses=0, successes=0) for s in start
               if not s.seed and s.name not in lib)
    return lib


def start_from(opts: RunOptions) -> list[Skill] | None:
    """The learned skills a new run starts from: those of `opts.skills_from`, read (and
    checked) now, before a run directory exists; None without it, so a run starts from the
    world's seed skills only and nothing earlier runs learned is ever read implicitly."""
    if not opts.skills_from:
        return None
    if not opts.skills:
        raise UserError("--skills-from needs the skill library (drop --no-skills)",
                        field="--skills-from")
    from agentsim.skills.start import learned_from

    return learned_from(opts.skills_from)


def inherit(start: list[Skill] | None, rd: RunDir) -> None:
    """A new run started from learned skills keeps them in its directory, so a resume or a
    replay starts from the same ones whatever the source holds by then."""
    if start is not None:
        from agentsim.skills.start import write_start

        write_start(rd.path / INHERITED, start)


def keep_learned(skills: SkillLibrary | None, opts: RunOptions, world_path: Path) -> None:
    """Merge a run's skills and counts into the world's shared library (`--skill-library`),
    which a later run starts from only when pointed at it (`--skills-from`)."""
    if skills is None or opts.replay:
        return
    from agentsim.skills.library import SharedLibrary

    shared = shared_library_path(opts, world_path)
    if shared is not None:
        skills.merge_into(SharedLibrary(shared))


def _preload(llm: LLM) -> None:
    """What the event loop's first LLM request would import, imported now, before the run's
    threads start (two threads importing one package at once can break it; the threads
    import chromadb and sentence-transformers behind one lock): see `agentsim.preload`."""
    from agentsim.preload import preload

    backends = llm.backends.values()
    preload(openai=any(type(b).__name__ == "OpenAIBackend" for b in backends))
