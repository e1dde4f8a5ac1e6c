"""Assembling a simulation from files and options: world, LLM, embedder, run directory.

This is where the provider-free core meets the concrete pieces a user picked.
"""

from __future__ import annotations

import errno
import os
import platform
import random
import shutil
import sqlite3
import sys
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

from agentsim import __version__
from agentsim.engine import Simulation
from agentsim.errors import LLMUnavailable, UserError
from agentsim.llm.base import LLM
from agentsim.resources import resolve_world
from agentsim.rundir import RunDir
from agentsim.skills.library import SharedLibrary
from agentsim.world.loader import load_world

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


def _embedder(kind: str, cache: Path | None):
    from agentsim.memory.embed import BatchingEmbedder, make_embedder

    if kind not in ("minilm", "hash"):
        raise UserError(f"unknown embedder {kind!r} (minilm or hash)", field="embedder")
    inner = make_embedder(kind, cache_path=cache)
    return inner, BatchingEmbedder(inner)


def _knowledge(world, embed, embedder, run_dir: RunDir | None):
    """The world's documents as a knowledge base: kept in the run directory (its one writer is
    this process), or in memory when there is none (e.g. interviewing a finished run, which
    may still be open in another process). Indexed on first use."""
    if not world.documents:
        return None
    from agentsim.rag.store import KnowledgeBase

    return KnowledgeBase.from_world(world, embed, embedder_name=getattr(embedder, "name", "?"),
                                    path=run_dir.knowledge if run_dir else None)


def shared_library_path(opts: RunOptions, world_path: Path) -> Path | None:
    """Where the learned skills of this world persist across runs, if anywhere."""
    if not opts.skills or not opts.skill_library:
        return None
    if opts.skill_library != "auto":
        return Path(opts.skill_library)
    return Path(opts.out) / "skill_library" / f"{world_path.name}.jsonl" if opts.out else None


def _skills(world, embed, embedder, opts: RunOptions, run_dir: RunDir | None,
            inherited_from: Path | None):
    """The skill library: the world's seed skills, then the learned skills this run inherits
    (from the shared library when a run starts, from the run's own record when it is resumed,
    replayed or opened). Its chromadb index lives in the run directory (one writer: this
    process), or in memory."""
    if not opts.skills:
        return None

    from agentsim.skills.library import SkillLibrary, load_seed_skills, read_jsonl

    seeds = load_seed_skills(world.path / "skills", world.path)
    lib = SkillLibrary(embed, embedder_name=getattr(embedder, "name", "?"),
                       path=run_dir.path / "skills" if run_dir else None)
    lib.extend(seeds)
    if inherited_from is not None:
        lib.extend(replace(s, uses=0, successes=0) for s in read_jsonl(inherited_from)
                   if not s.seed and s.name not in lib)
    return lib


def _inherit(opts: RunOptions, rd: RunDir, world_path: Path) -> None:
    """A new run records the learned skills it starts from, so a resume or a replay starts
    from the same ones whatever the shared library holds by then."""
    shared = shared_library_path(opts, world_path)
    if shared is not None and shared.exists():
        shutil.copy(shared, rd.path / INHERITED)


def _keep_learned(sim: Simulation, opts: RunOptions) -> None:
    """Merge the run's skills and counts into the world's shared library."""
    if sim.skills is None or opts.replay:
        return
    shared = shared_library_path(opts, Path(sim.world.path))
    if shared is not None:
        sim.skills.merge_into(SharedLibrary(shared))


def _build(opts: RunOptions, run_dir: RunDir | None, replay_log: Path | None,
           check: bool = False, inherited: Path | None = None,
           fallback: str | None = None) -> Simulation:
    from agentsim.llm.factory import build_llm

    world = load_world(resolve_world(opts.world))
    llm = build_llm(
        opts.llm,
        config_path=opts.llm_config,
        record_path=run_dir.llm_log if run_dir else None,
        replay_path=replay_log,
        max_in_flight=opts.max_in_flight,
        budget=(opts.budget_calls, opts.budget_tokens, opts.budget_usd),
        give_up=(opts.give_up_after, opts.give_up_failures),
        rng=random.Random(opts.seed),
        check_reachable=check,
        cache_path=opts.cache,
        seed=opts.seed,
        notify=(lambda note: print(f"agentsim: note: {note}", file=sys.stderr)) if check else None,
        fallback=fallback or opts.fallback,
    )
    embedder, batcher = _embedder(opts.embedder, run_dir.embeddings if run_dir else None)
    _preload(llm)
    if inherited is None and run_dir is not None:
        inherited = run_dir.path / INHERITED
    sim = Simulation(world, llm, batcher.embed, seed=opts.seed, dim=embedder.dim,
                     knowledge=_knowledge(world, batcher.embed, embedder, run_dir),
                     skills=_skills(world, batcher.embed, embedder, opts, run_dir,
                                    inherited if inherited and inherited.exists() else None))
    sim.checkpoint_every = opts.checkpoint_every
    if opts.allow_unsandboxed_skills:
        sim.settings = replace(sim.settings, allow_unsandboxed_skills=True)
    sim.embedder = embedder
    sim.options = opts
    return sim


def _preload(llm: Any) -> None:
    """What the event loop's first LLM request would import, imported now, before the run's
    threads start (two threads importing one package at once can break it; the threads
    import chromadb and sentence-transformers behind one lock): see `agentsim.preload`."""
    from agentsim.preload import preload

    backends = getattr(llm, "backends", {}).values()
    preload(openai=any(type(b).__name__ == "OpenAIBackend" for b in backends))


def load(
    world: str,
    *,
    seed: int = 0,
    llm: str | LLM | None = None,
    embedder: str = "minilm",
    out: str | None = None,
    **options: Any,
) -> Simulation:
    """A Simulation of `world`. `llm`: a spec ("offline", "ollama:llama3.1", ...), or any object
    with the LLM protocol (e.g. an `agentsim.llm.client.LLMClient`). `out`: a folder for a run
    directory (events, checkpoints, LLM record); None keeps everything in memory."""
    opts = RunOptions(world=world, seed=seed, embedder=embedder, out=out,
                      llm=llm if isinstance(llm, str) else None, **options)
    run_dir = RunDir.create(out, Path(world).name, seed) if out else None
    if run_dir:
        run_dir.write_manifest(_first_manifest(opts, resolve_world(world)))
        _inherit(opts, run_dir, resolve_world(world))
    sim = _build(opts, run_dir, None)
    if llm is not None and not isinstance(llm, str):
        sim.llm = llm
        _preload(llm)
    if run_dir:
        run_dir.write_manifest(_manifest(sim, opts))
        sim.attach(run_dir)
        # closing writes the final manifest (ticks, event counts, LLM usage), as a CLI run does
        sim.on_close = lambda: (_finish_manifest(sim, opts, sim.clock.tick),
                                _keep_learned(sim, opts))
    return sim


def open_run(path: str, llm: str | None = None, fallback: str | None = None) -> Simulation:
    """A finished or stopped run at its last checkpoint, for interviews and inspection.
    Nothing is written to the run. `fallback`: what answers a call the model could not
    (None: as the run was set up)."""
    rd = RunDir.open(path)
    manifest = rd.read_manifest()
    known = RunOptions.__dataclass_fields__
    opts = RunOptions(**{**{k: v for k, v in manifest["options"].items() if k in known},
                         "llm": llm or manifest["options"]["llm"]})
    sim = _build(opts, None, None, inherited=rd.path / INHERITED, fallback=fallback)
    found = rd.latest_checkpoint()
    if found is None:
        raise UserError("the run has no checkpoint yet", path=rd.path)
    sim.set_state(*found)
    return sim


def _manifest(sim: Simulation, opts: RunOptions, **extra: Any) -> dict[str, Any]:
    return {
        "agentsim": __version__,
        "python": platform.python_version(),
        "world": {"name": sim.world.spec.name, "path": str(sim.world.path)},
        "seed": sim.seed,
        "options": asdict(opts),
        "llm": getattr(sim.llm, "describe", lambda: {"backend": type(sim.llm).__name__})(),
        "embedder": getattr(sim.embedder, "name", opts.embedder),
        "agents": len(sim.agents),
        **extra,
    }


def _first_manifest(opts: RunOptions, world_path: Path, **extra: Any) -> dict[str, Any]:
    """The manifest a run directory gets first, before anything slow (building the LLM, the
    embedder, the knowledge index), so a run killed early can still be resumed."""
    return {
        "agentsim": __version__,
        "python": platform.python_version(),
        "world": {"name": world_path.name, "path": str(world_path)},
        "seed": opts.seed,
        "options": asdict(opts),
        **extra,
    }


def _ticks(opts: RunOptions, tick_minutes: int) -> int:
    hours = opts.hours if opts.hours is not None else 24.0
    return opts.ticks if opts.ticks is not None else round(hours * 60 / tick_minutes)


_DISK_FULL = {errno.ENOSPC, errno.EDQUOT, errno.EFBIG}


def disk_full(e: BaseException) -> bool:
    """Whether `e` says the disk (or a quota) is full."""
    if isinstance(e, OSError):
        return e.errno in _DISK_FULL
    return isinstance(e, sqlite3.Error) and (
        getattr(e, "sqlite_errorcode", None) == 13 or "disk is full" in str(e))  # SQLITE_FULL


def _disk_full_error(e: BaseException, sim: Simulation, rd: RunDir) -> UserError:
    done = rd.checkpoints()
    last = f"its last checkpoint ({done[-1].name}) is intact" if done else "it has no checkpoint"
    why = os.strerror(e.errno) if isinstance(e, OSError) and e.errno else str(e)
    err = UserError(f"disk full ({why}): the run stopped at tick {sim.clock.tick} and {last}; "
                    f"free some space, then: agentsim run --resume {rd.path}",
                    path=getattr(e, "filename", None) or rd.path)
    err.__cause__ = e  # what --debug shows
    return err


def min_share(opts: RunOptions | None) -> float:
    """The model share under which a run warns."""
    from agentsim.llm.accounting import MIN_MODEL_SHARE

    share = getattr(opts, "min_model_share", None)
    return MIN_MODEL_SHARE if share is None else share


def origins_summary(llm: Any, minimum: float) -> dict[str, Any]:
    """Who answered the run's LLM calls, for the manifest: the model's share of the answers
    meant for it (None: none was, e.g. on the offline mind), how many the offline mind
    answered as a fallback, and a warning when the share is under `minimum`."""
    from agentsim.llm.accounting import share_warning

    usage = getattr(llm, "usage", None)
    if usage is None:
        return {}
    t = usage.total
    share = t.model_share
    return {"model_share": None if share is None else round(share, 4),
            "fallbacks": t.origins.get("fallback", 0),
            "model_share_warning": share_warning(usage, minimum)}


def _finish_manifest(sim: Simulation, opts: RunOptions, target: int) -> None:
    usage = sim.llm.usage.summary() if hasattr(sim.llm, "usage") else {}
    counts: dict[str, int] = {}
    for e in sim.events:
        counts[e.type] = counts.get(e.type, 0) + 1
    sim.run_dir.write_manifest(_manifest(
        sim, opts, target_tick=target, ticks=sim.clock.tick, sim_time=sim.clock.now.isoformat(),
        stopped=sim.stopped, events=counts, llm_usage=usage,
        **origins_summary(sim.llm, min_share(opts)),
    ))


def _fresh(rd: RunDir, build) -> Simulation:
    """Build into a new run directory; if that fails, leave no empty run behind."""
    try:
        return build()
    except BaseException:
        rd.close()
        shutil.rmtree(rd.path, ignore_errors=True)
        raise


def _run_tui(sim: Simulation, opts: RunOptions, total: int, target: int) -> int:
    from agentsim.tui import run_tui

    try:
        run_tui(sim, total)
    finally:
        _finish_manifest(sim, opts, target)
        _keep_learned(sim, opts)
        sim.run_dir.close()
    if sim.halted:
        print(halted_line(sim, sim.run_dir), file=sys.stderr)
        return LLMUnavailable.exit_code
    print(f"Run saved to {sim.run_dir.path} (tick {sim.clock.tick}); "
          f"resume: agentsim run --resume {sim.run_dir.path}")
    return 0


def run_cli(opts: RunOptions) -> int:
    """`agentsim run`: build, run with progress, write the manifest. Returns the exit code."""
    from agentsim.progress import Progress

    target: int | None = None
    replay_stop: str | None = None
    if opts.resume:
        rd = RunDir.open(opts.resume)
        rd.lock()  # one process per run directory: a second resume stops here
        try:
            manifest = rd.read_manifest()
            saved = manifest["options"]
            budget = {k: v for k, v in (("budget_calls", opts.budget_calls),
                                        ("budget_tokens", opts.budget_tokens),
                                        ("budget_usd", opts.budget_usd),
                                        ("give_up_after", opts.give_up_after),
                                        ("give_up_failures", opts.give_up_failures),
                                        ("fallback", opts.fallback),
                                        ("min_model_share", opts.min_model_share))
                      if v is not None}
            opts = RunOptions(**{**saved, "hours": opts.hours, "ticks": opts.ticks,
                                 "headless": opts.headless, "resume": opts.resume,
                                 "llm": opts.llm or saved["llm"], **budget})
            rd.resume_point()  # the logs cut back to the checkpoint before the LLM record opens
            sim = _build(opts, rd, None, check=True)
            sim.attach(rd, resumed=True)
        except BaseException:
            rd.close()
            raise
        if opts.hours is None and opts.ticks is None:  # finish what the run set out to do
            target = manifest.get("target_tick", sim.clock.tick)
    elif opts.replay:
        src = RunDir.open(opts.replay)
        manifest = src.read_manifest()
        saved = manifest["options"]
        opts = RunOptions(**{**saved, "out": opts.out, "replay": opts.replay,
                             "headless": opts.headless, "resume": None})
        rd = RunDir.create(opts.out, Path(opts.world).name + "-replay", opts.seed)
        rd.write_manifest(_first_manifest(opts, Path(manifest["world"]["path"])))
        if src.embeddings.exists():
            shutil.copy(src.embeddings, rd.embeddings)
        if (src.path / INHERITED).exists():
            shutil.copy(src.path / INHERITED, rd.path / INHERITED)
        sim = _fresh(rd, lambda: _build(opts, rd, src.llm_log))
        target = manifest.get("ticks", manifest.get("target_tick"))
        replay_stop = manifest.get("stopped")  # a budget stop ends the replay the same way
        sim.attach(rd)
    else:
        if opts.world is None:
            raise UserError("missing WORLD", field="WORLD")
        world_path = resolve_world(opts.world)
        world = load_world(world_path)  # a bad world fails before a run directory exists
        target = _ticks(opts, world.spec.tick_minutes)
        rd = RunDir.create(opts.out, world_path.name, opts.seed)
        rd.write_manifest(_first_manifest(opts, world_path, target_tick=target))
        _inherit(opts, rd, world_path)
        sim = _fresh(rd, lambda: _build(opts, rd, None, check=True))
        sim.attach(rd)

    if target is None:
        target = sim.clock.tick + _ticks(opts, sim.world.spec.tick_minutes)
    total = max(0, target - sim.clock.tick)
    rd.write_manifest(_manifest(sim, opts, target_tick=target))
    if not opts.headless:
        return _run_tui(sim, opts, total, target)
    progress = Progress(sim, total)
    code = 0
    failed: UserError | None = None
    try:
        progress.start()
        sim._sync(sim.arun(ticks=total, budget_check=getattr(sim.llm, "budget_exceeded", None)))
        if replay_stop and sim.stopped is None:
            sim.stop(replay_stop)
    except KeyboardInterrupt:
        code = 130
        try:
            sim.checkpoint()  # refused mid-tick: the last checkpoint stands then
        except (OSError, sqlite3.Error) as e:
            if not disk_full(e):
                raise
            failed = _disk_full_error(e, sim, rd)
    except LLMUnavailable:
        code = LLMUnavailable.exit_code
    except (OSError, sqlite3.Error) as e:  # a full disk: stop cleanly, checkpoints intact
        if not disk_full(e):
            raise
        failed = _disk_full_error(e, sim, rd)
    finally:
        progress.stop()
        for wrap_up in (lambda: _finish_manifest(sim, opts, target),
                        lambda: _keep_learned(sim, opts), sim.close, rd.close):
            try:
                wrap_up()
            except (OSError, sqlite3.Error) as e:
                if not disk_full(e):
                    raise
                failed = failed or _disk_full_error(e, sim, rd)
    if failed is not None:
        raise failed
    if code == LLMUnavailable.exit_code:
        print(halted_line(sim, rd), file=sys.stderr)
        return code
    progress.summary(rd.path)
    return code


def halted_line(sim: Simulation, rd: RunDir) -> str:
    """The one line a run stopped by an unavailable LLM ends with: why, and how to go on."""
    done = rd.checkpoints()
    at = f"its last checkpoint (tick {int(done[-1].name.split('-')[-1])})" if done else \
        "its start (no checkpoint yet)"
    return (f"agentsim: stopped: {sim.stopped}; the run is saved at {at}: resume with "
            f"`agentsim run --resume {rd.path}`")
