"""A run directory: `runs/<id>/` with the manifest, the event log, checkpoints and the LLM record.

    manifest.json        world, seed, LLM config, versions, counts (rewritten atomically)
    events.jsonl         one event a line, append-only, flushed every tick
    checkpoints/tick-NNNNNN/state.json + arrays.npz   written to a temp dir, then renamed
    llm.jsonl            every LLM request's answer, for replay
    embeddings.sqlite    every embedding, so a resume or replay sees the same vectors
    knowledge/           the world's documents indexed in chromadb (written by this run only)
"""

from __future__ import annotations

import json
import os
import re
import shutil
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from agentsim.errors import UserError
from agentsim.events import Event, parse_event

if TYPE_CHECKING:
    from agentsim.world.loader import WorldDef

CHECKPOINTS = "checkpoints"


_SURROGATE = re.compile("[\ud800-\udfff]")

class RunDir:
    def __init__(self, path: Path):
        self.path = Path(path)
        self._events = None

    # -- creation ----------------------------------------------------------------------------
    @classmethod
    def create(cls, root: str | Path, name: str, seed: int) -> RunDir:
        stamp = datetime.now().strftime("%Y%m%d-%H%M%S")  # the run's name only; never in events
        base = Path(root) / f"{name}-s{seed}-{stamp}"
        path, n = base, 1
        while path.exists():
            n += 1
            path = base.with_name(f"{base.name}-{n}")
        path.mkdir(parents=True)
        (path / CHECKPOINTS).mkdir()
        return cls(path)

    @classmethod
    def open(cls, path: str | Path) -> RunDir:
        p = Path(path)
        if not (p / "manifest.json").is_file():
            raise UserError("not a run directory (no manifest.json)", path=p)
        return cls(p)

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
        _atomic_write(self.path / "manifest.json", json.dumps(manifest, indent=2, default=str))

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

    def truncate_events(self, size: int) -> None:
        """Drop what was logged after a checkpoint; the resumed run writes it again."""
        self.close()
        if self.events_path.exists():
            with open(self.events_path, "r+b") as f:
                f.truncate(size)

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

    def close(self) -> None:
        if self._events is not None:
            self._events.close()
            self._events = None

    # -- checkpoints -------------------------------------------------------------------------
    def save_checkpoint(self, tick: int, state: dict[str, Any], arrays: dict[str, Any]) -> Path:
        final = self.path / CHECKPOINTS / f"tick-{tick:06d}"
        tmp = final.with_name(final.name + ".tmp")
        if tmp.exists():
            shutil.rmtree(tmp)
        tmp.mkdir(parents=True)
        (tmp / "state.json").write_text(json.dumps(state, separators=(",", ":")))
        with open(tmp / "arrays.npz", "wb") as f:
            np.savez(f, **arrays)
            f.flush()
            os.fsync(f.fileno())
        if final.exists():
            shutil.rmtree(final)
        tmp.rename(final)
        return final

    def checkpoints(self) -> list[Path]:
        """The finished checkpoints, oldest first (a half-written `.tmp` one is not)."""
        root = self.path / CHECKPOINTS
        return sorted(p for p in root.glob("tick-*") if not p.name.endswith(".tmp"))

    def latest_checkpoint(self) -> tuple[dict[str, Any], dict[str, np.ndarray]] | None:
        done = self.checkpoints()
        if not done:
            return None
        last = done[-1]
        state = json.loads((last / "state.json").read_text())
        with np.load(last / "arrays.npz") as z:
            arrays = {k: z[k] for k in z.files}
        return state, arrays


def run_dirs(root: str | Path) -> list[Path]:
    """The run directories in a runs folder (those with a manifest), oldest name first; the
    folder also holds `skill_library/`, the learned skills its runs share."""
    root = Path(root)
    return sorted(p for p in root.iterdir() if (p / "manifest.json").exists()) \
        if root.is_dir() else []


def _atomic_write(path: Path, text: str) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text)
    tmp.replace(path)


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
