"""`agentsim run`: a new run, a resume or a replay, driven to its end with progress (or the
TUI), its manifest written and its learned skills kept. CLI-only: the run loop itself is the
facade's (`Simulation.arun`)."""

from __future__ import annotations

import errno
import os
import shutil
import sqlite3
import sys
from collections.abc import Callable
from pathlib import Path

from agentsim import assemble
from agentsim.errors import LLMUnavailable, UserError
from agentsim.experiment import Simulation
from agentsim.manifest import finish_manifest, first_manifest, manifest
from agentsim.options import INHERITED, RunOptions
from agentsim.resources import resolve_world
from agentsim.rundir import RunDir
from agentsim.world.loader import load_world

# the options a resume takes from its command line rather than from the run's manifest
# (a resume runs on as many shards as its command line says, 1 by default)
_RESUME_OVERRIDES = ("budget_calls", "budget_tokens", "budget_usd", "give_up_after",
                     "give_up_failures", "fallback", "min_model_share", "shards", "ray_address")


def _build(opts: RunOptions, run_dir: RunDir | None, replay_log: Path | None,
           check: bool = False) -> Simulation:
    sim = Simulation.of(assemble.build(opts, run_dir, replay_log, check=check), opts)
    if opts.shards > 1 and replay_log is None:  # a replay answers from one record, here
        from agentsim.distributed import distribute

        distribute(sim, opts.shards, address=opts.ray_address)
    return sim


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


def _fresh(rd: RunDir, build: Callable[[], Simulation]) -> Simulation:
    """Build into a new run directory; if that fails, leave no empty run behind."""
    try:
        return build()
    except BaseException:
        rd.close()
        shutil.rmtree(rd.path, ignore_errors=True)
        raise


def _finish(sim: Simulation, rd: RunDir, opts: RunOptions, target: int) -> None:
    finish_manifest(sim, rd, opts, sim.embedder.name, target)
    assemble.keep_learned(sim.skills, opts, Path(sim.world.path))


def _resume(opts: RunOptions) -> tuple[Simulation, RunDir, RunOptions, int | None]:
    rd = RunDir.open(opts.resume)
    rd.lock()  # one process per run directory: a second resume stops here
    try:
        saved_manifest = rd.read_manifest()
        saved = saved_manifest["options"]
        given = {k: getattr(opts, k) for k in _RESUME_OVERRIDES if getattr(opts, k) is not None}
        opts = RunOptions.from_saved(saved, hours=opts.hours, ticks=opts.ticks,
                                     headless=opts.headless, resume=opts.resume,
                                     llm=opts.llm or saved["llm"], **given)
        rd.resume_point()  # the logs cut back to the checkpoint before the LLM record opens
        sim = _build(opts, rd, None, check=True)
        sim.attach(rd, resumed=True)
    except BaseException:
        rd.close()
        raise
    target = None
    if opts.hours is None and opts.ticks is None:  # finish what the run set out to do
        target = saved_manifest.get("target_tick", sim.clock.tick)
    return sim, rd, opts, target


def _replay(opts: RunOptions) -> tuple[Simulation, RunDir, RunOptions, int | None, str | None]:
    src = RunDir.open(opts.replay)
    saved_manifest = src.read_manifest()
    opts = RunOptions.from_saved(saved_manifest["options"], out=opts.out, replay=opts.replay,
                                 headless=opts.headless, resume=None)
    rd = RunDir.create(opts.out, Path(opts.world).name + "-replay", opts.seed)
    rd.write_manifest(first_manifest(opts, Path(saved_manifest["world"]["path"])))
    if src.embeddings.exists():
        shutil.copy(src.embeddings, rd.embeddings)
    if (src.path / INHERITED).exists():
        shutil.copy(src.path / INHERITED, rd.path / INHERITED)
    sim = _fresh(rd, lambda: _build(opts, rd, src.llm_log))
    sim.attach(rd)
    target = saved_manifest.get("ticks", saved_manifest.get("target_tick"))
    # a budget stop ends the replay the same way
    return sim, rd, opts, target, saved_manifest.get("stopped")


def _new(opts: RunOptions) -> tuple[Simulation, RunDir, int]:
    if opts.world is None:
        raise UserError("missing WORLD", field="WORLD")
    world_path = resolve_world(opts.world)
    world = load_world(world_path)  # a bad world fails before a run directory exists
    start = assemble.start_from(opts)  # and so does a bad --skills-from
    target = _ticks(opts, world.spec.tick_minutes)
    rd = RunDir.create(opts.out, world_path.name, opts.seed)
    rd.write_manifest(first_manifest(opts, world_path, target_tick=target))
    assemble.inherit(start, rd)
    sim = _fresh(rd, lambda: _build(opts, rd, None, check=True))
    sim.attach(rd)
    return sim, rd, target


def run_cli(opts: RunOptions) -> int:
    """`agentsim run`: build, run with progress, write the manifest. Returns the exit code."""
    replay_stop: str | None = None
    target: int | None
    if opts.resume:
        sim, rd, opts, target = _resume(opts)
    elif opts.replay:
        sim, rd, opts, target, replay_stop = _replay(opts)
    else:
        sim, rd, target = _new(opts)
    if target is None:
        target = sim.clock.tick + _ticks(opts, sim.world.spec.tick_minutes)
    total = max(0, target - sim.clock.tick)
    rd.write_manifest(manifest(sim, opts, sim.embedder.name, target_tick=target))
    if not opts.headless:
        return _run_tui(sim, rd, opts, total, target)
    return _run_headless(sim, rd, opts, total, target, replay_stop)


def _run_headless(sim: Simulation, rd: RunDir, opts: RunOptions, total: int, target: int,
                  replay_stop: str | None) -> int:
    from agentsim.progress import Progress

    progress = Progress(sim, total)
    code = 0
    failed: UserError | None = None
    try:
        progress.start()
        sim.run(ticks=total)
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
        for wrap_up in (lambda: _finish(sim, rd, opts, target), sim.close, rd.close):
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


def _run_tui(sim: Simulation, rd: RunDir, opts: RunOptions, total: int, target: int) -> int:
    from agentsim.tui import run_tui

    try:
        run_tui(sim, total)
    finally:
        _finish(sim, rd, opts, target)
        rd.close()
    if sim.halted:
        print(halted_line(sim, rd), file=sys.stderr)
        return LLMUnavailable.exit_code
    print(f"Run saved to {rd.path} (tick {sim.clock.tick}); "
          f"resume: agentsim run --resume {rd.path}")
    return 0


def halted_line(sim: Simulation, rd: RunDir) -> str:
    """The one line a run stopped by an unavailable LLM ends with: why, and how to go on."""
    done = rd.checkpoints()
    at = f"its last checkpoint (tick {int(done[-1].name.split('-')[-1])})" if done else \
        "its start (no checkpoint yet)"
    return (f"agentsim: stopped: {sim.stopped}; the run is saved at {at}: resume with "
            f"`agentsim run --resume {rd.path}`")
