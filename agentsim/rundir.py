"""A run directory: `runs/<id>/` with the manifest, the event log, checkpoints and the LLM record.

    manifest.json        world, seed, LLM config, versions, counts (written first, before
                         anything slow; rewritten atomically)
    events.jsonl         one event a line, append-only, flushed every tick
    checkpoints/tick-NNNNNN/state.json + arrays.npz   written to a temp dir, fsynced, renamed
                         (the newest few kept; `keep_checkpoints`)
    vectors-384.f32      the memories' embeddings, each distinct one stored once for
                         all checkpoints (float32 rows; checkpoints hold row numbers)
    llm.jsonl            every LLM request's answer, for replay
    run.lock             held (flock) by the one process writing the run
    embeddings.sqlite    every embedding, so a resume or replay sees the same vectors
    knowledge/           the world's documents indexed in chromadb (written by this run only)
"""

from __future__ import annotations

import errno
import json
import os
import re
import sys
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from agentsim.checkpoint_store import (
    CHECKPOINTS,
    Checkpoint,
    CheckpointError,
    list_checkpoints,
    load_checkpoint,
    write_checkpoint,
)
from agentsim.checkpoint_vectors import VectorFile
from agentsim.durable import atomic_write, fsync_path, whole_lines
from agentsim.errors import UserError
from agentsim.events import Event, parse_event

if TYPE_CHECKING:
    from agentsim.world.loader import WorldDef

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows: no lock
    fcntl = None  # type: ignore[assignment]

LOCK = "run.lock"


def warn(message: str) -> None:
    """A one-line warning on stderr."""
    print(f"agentsim: warning: {message}".replace("\n", " "), file=sys.stderr)


_SURROGATE = re.compile("[\ud800-\udfff]")

class RunDir:
    def __init__(self, path: Path):
        self.path = Path(path)
        self._events = None
        self._lock: int | None = None
        self._resume: Checkpoint | None = None
        self._cut = False
        self._vectors: dict[int, VectorFile] = {}  # the checkpoints' vector files, by dim

    # -- creation ----------------------------------------------------------------------------
    @classmethod
    def create(cls, root: str | Path, name: str, seed: int) -> RunDir:
        """A new run directory, locked by this process (see `lock`)."""
        stamp = datetime.now().strftime("%Y%m%d-%H%M%S")  # the run's name only; never in events
        base = Path(root) / f"{name}-s{seed}-{stamp}"
        path, n = base, 1
        while path.exists():
            n += 1
            path = base.with_name(f"{base.name}-{n}")
        path.mkdir(parents=True)
        (path / CHECKPOINTS).mkdir()
        rd = cls(path)
        rd.lock()
        return rd

    @classmethod
    def open(cls, path: str | Path) -> RunDir:
        p = Path(path)
        if not (p / "manifest.json").is_file():
            if not p.is_dir():
                raise UserError("no such run directory", path=p)
            if (p / CHECKPOINTS).is_dir():  # made by `create`, killed before its manifest
                raise UserError("no manifest.json: the run was stopped before it started, so "
                                "there is nothing to resume; delete the folder and start a new "
                                "run (agentsim run WORLD)", path=p)
            raise UserError("not a run directory (no manifest.json)", path=p)
        return cls(p)

    def lock(self) -> None:
        """Take the run directory for this process: an exclusive lock on `run.lock`, held until
        `close`. A second process (say, two resumes at once) gets a UserError, not a corrupt
        run."""
        if self._lock is not None or fcntl is None:
            return
        fd = os.open(self.path / LOCK, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as e:
            os.close(fd)
            if e.errno in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
                raise UserError("another agentsim process is using this run directory; wait "
                                "for it to end (or stop it), then try again",
                                path=self.path) from None
            raise
        self._lock = fd

    @property
    def id(self) -> str:
        return self.path.name

    @property
    def llm_log(self) -> Path:
        return self.path / "llm.jsonl"

    @property
    def embeddings(self) -> Path:
        return self.path / "embeddings.sqlite"

    @property
    def knowledge(self) -> Path:
        return self.path / "knowledge"

    @property
    def events_path(self) -> Path:
        return self.path / "events.jsonl"

    # -- manifest ----------------------------------------------------------------------------
    def write_manifest(self, manifest: dict[str, Any]) -> None:
        atomic_write(self.path / "manifest.json", json.dumps(manifest, indent=2, default=str))

    def read_manifest(self) -> dict[str, Any]:
        try:
            return json.loads((self.path / "manifest.json").read_text())
        except json.JSONDecodeError as e:
            raise UserError(f"broken JSON ({e.msg}, line {e.lineno})",
                            path=self.path / "manifest.json") from None

    # -- events ------------------------------------------------------------------------------
    def append(self, event: Event) -> None:
        if self._events is None:
            self._events = open(self.events_path, "a", encoding="utf-8")  # noqa: SIM115
        line = event.to_json()
        if _SURROGATE.search(line):  # a lone surrogate (no UTF-8 for it): U+FFFD instead
            line = _SURROGATE.sub("\ufffd", line)
        self._events.write(line + "\n")

    def flush(self) -> None:
        if self._events is not None:
            self._events.flush()

    def events_size(self) -> int:
        self.flush()
        return self.events_path.stat().st_size if self.events_path.exists() else 0

    def sync_logs(self) -> dict[str, int]:
        """Flush events.jsonl and llm.jsonl to disk (fsync); their sizes now, which a
        checkpoint keeps (`events_bytes`, `llm_bytes`) so that a resume can cut both logs back
        to exactly that moment."""
        self.flush()
        sizes = {}
        for key, path in (("events_bytes", self.events_path), ("llm_bytes", self.llm_log)):
            sizes[key] = 0
            if path.exists():
                with open(path, "rb") as f:  # the LLM recorder flushes every line it writes
                    os.fsync(f.fileno())
                    sizes[key] = os.fstat(f.fileno()).st_size
        return sizes

    def truncate_events(self, size: int) -> None:
        """Drop what was logged after a checkpoint; the resumed run writes it again."""
        self.cut_logs({"events_bytes": size})

    def cut_logs(self, state: dict[str, Any]) -> None:
        """Cut events.jsonl and llm.jsonl back to their sizes in `state` (a checkpoint's): what
        was logged after it (a torn last line too) goes, and the resumed run writes it again.
        Never makes a log longer. A log whose size `state` does not know (a checkpoint from
        before llm_bytes) loses a torn last line only."""
        self._close_events()
        for path, size in ((self.events_path, state.get("events_bytes")),
                           (self.llm_log, state.get("llm_bytes"))):
            if not path.exists():
                continue
            have = path.stat().st_size
            if size is None:
                size = whole_lines(path)
            if size < have:
                os.truncate(path, size)
                fsync_path(path)

    def read_events(self) -> list[Event]:
        if not self.events_path.exists():
            return []
        with open(self.events_path, encoding="utf-8") as f:
            lines = f.read().split("\n")
        events = []
        for n, line in enumerate(lines, 1):
            if not line.strip():
                continue
            try:
                events.append(parse_event(line))
            except ValueError as e:
                if n == len(lines):  # no newline after it: a write cut short (a killed run)
                    break
                first = str(e).splitlines()[0]
                raise UserError(f"line {n} is not an event ({first})",
                                path=self.events_path) from None
        return events

    def _close_events(self) -> None:
        if self._events is not None:
            events, self._events = self._events, None
            events.close()

    def close(self) -> None:
        """Close the event log and let go of the run directory's lock."""
        try:
            self._close_events()
        finally:
            if self._lock is not None:
                os.close(self._lock)  # closing the descriptor releases the flock
                self._lock = None

    # -- checkpoints -------------------------------------------------------------------------
    def save_checkpoint(self, tick: int, state: dict[str, Any], arrays: dict[str, Any], *,
                        keep: int = 0) -> Path:
        """Write a checkpoint atomically, then keep the newest `keep` (0: all); see
        `checkpoint_store.write_checkpoint`."""
        return write_checkpoint(self.path / CHECKPOINTS, tick, state, arrays,
                                vectors=self._vectors, keep=keep)

    def checkpoints(self) -> list[Path]:
        """The finished checkpoints, oldest first (see `checkpoint_store.list_checkpoints`)."""
        return list_checkpoints(self.path / CHECKPOINTS)

    def latest_checkpoint(self, *, warn: Callable[[str], None] | None = warn) -> Checkpoint | None:
        """The newest checkpoint that loads; a broken newer one is skipped with a warning."""
        for ck in reversed(self.checkpoints()):
            try:
                return load_checkpoint(ck)
            except CheckpointError as e:
                if warn is not None:
                    warn(f"{ck}: {e}; using an older checkpoint")
        return None

    def resume_point(self, *, warn: Callable[[str], None] | None = warn) -> Checkpoint | None:
        """Where a resume starts: the newest checkpoint that loads and matches the logs (they
        hold at least what they held when it was taken), with events.jsonl and llm.jsonl cut
        back to that moment. None (both logs emptied) when the run has no checkpoint: it starts
        again from tick 0. A broken newer checkpoint is skipped with a one-line warning; if
        there are checkpoints but none is usable, a UserError (nothing is cut). Asked again,
        the same answer (the logs are cut once)."""
        if self._cut:
            return self._resume
        problems = []
        for ck in reversed(self.checkpoints()):
            try:
                state, arrays = load_checkpoint(ck)
                self._check_logs(state)
            except CheckpointError as e:
                problems.append(f"{ck.name}: {e}")
                if warn is not None:
                    warn(f"{ck}: {e}; using an older checkpoint")
                continue
            self.cut_logs(state)
            self._resume, self._cut = (state, arrays), True
            return self._resume
        if problems:
            raise UserError(f"no usable checkpoint ({problems[0]}); start a new run",
                            path=self.path / CHECKPOINTS)
        self.cut_logs({"events_bytes": 0, "llm_bytes": 0})
        self._resume, self._cut = None, True
        return None

    def _check_logs(self, state: dict[str, Any]) -> None:
        for path, key in ((self.events_path, "events_bytes"), (self.llm_log, "llm_bytes")):
            size = state.get(key)
            if size is None or size == 0:
                continue
            have = path.stat().st_size if path.exists() else 0
            if have < size:
                raise CheckpointError(f"{path.name} is shorter ({have} bytes) than when it was "
                                      f"taken ({size} bytes)")
            with open(path, "rb") as f:
                f.seek(size - 1)
                if f.read(1) != b"\n":
                    raise CheckpointError(f"{path.name} does not end a line at byte {size}")


def run_dirs(root: str | Path) -> list[Path]:
    """The run directories in a runs folder (those with a manifest), oldest name first; the
    folder also holds `skill_library/`, the learned skills its runs share."""
    root = Path(root)
    return sorted(p for p in root.iterdir() if (p / "manifest.json").exists()) \
        if root.is_dir() else []


def world_of(manifest: dict[str, Any]) -> WorldDef:
    """The world a run was made in: its recorded path, else the world option (or a bundled
    world of that name)."""
    from agentsim.errors import UserError
    from agentsim.resources import resolve_world
    from agentsim.world.loader import load_world

    recorded = manifest.get("world", {})
    candidates = [recorded.get("path"), manifest.get("options", {}).get("world"),
                  recorded.get("name", "").lower()]
    for c in filter(None, candidates):
        path = resolve_world(c)
        if path.is_dir():
            return load_world(path)
    raise UserError(f"cannot find the world of this run (tried {candidates})", field="world")
