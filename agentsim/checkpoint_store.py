"""Checkpoints on disk: `checkpoints/tick-NNNNNN/` with state.json and arrays.npz, written to a
temp dir, fsynced and renamed into place so a crash never leaves a half-written newest one;
listed oldest first; loaded with a CheckpointError that says in a few words why one cannot be
resumed from. The memories' embeddings are stored once for all checkpoints (float32 rows in
`vectors-<dim>.f32` next to `checkpoints/`, see `agentsim.checkpoint_vectors`; a checkpoint
from before holds them inline and loads as it is), the agents' arrays are packed into a few
(`agentsim.checkpoint_pack`), and only the newest `keep` are kept.
"""

from __future__ import annotations

import json
import os
import re
import shutil
from pathlib import Path
from typing import Any

import numpy as np

from agentsim.checkpoint_pack import pack, unpack
from agentsim.checkpoint_vectors import VectorFile, join_vectors, split_vectors
from agentsim.durable import fsync_path

CHECKPOINTS = "checkpoints"
_CHECKPOINT_NAME = re.compile(r"tick-(\d+)(\.old)?")
# What a checkpoint's state must hold to be resumed from (`events_bytes`, `llm_bytes`: the
# sizes of events.jsonl and llm.jsonl when it was taken; `llm_bytes` is new, so optional).
_STATE_KEYS = ("tick", "seeded", "rng", "objects", "relationships", "agents", "events_bytes")

Checkpoint = tuple[dict[str, Any], dict[str, np.ndarray]]


class CheckpointError(Exception):
    """A checkpoint that cannot be resumed from (unreadable, incomplete, or not matching the
    logs); the message says why in a few words."""


def write_checkpoint(root: Path, tick: int, state: dict[str, Any], arrays: dict[str, Any], *,
                     vectors: dict[int, VectorFile] | None = None, keep: int = 0) -> Path:
    """Write a checkpoint atomically: files in a temp dir, fsynced, then renamed into
    place. A crash (or a full disk) never leaves a half-written newest checkpoint: the
    temp dir is removed or ignored, the older checkpoints stay. Embeddings go to the shared
    vector files (`vectors`: those already open, by dimension), synced before the rename.
    `keep` > 0: then only the newest `keep` checkpoints stay."""
    root.mkdir(exist_ok=True)
    arrays = pack(split_vectors(root, arrays, {} if vectors is None else vectors))
    final = root / f"tick-{tick:06d}"
    tmp = final.with_name(final.name + ".tmp")
    old = final.with_name(final.name + ".old")
    try:
        if tmp.exists():
            shutil.rmtree(tmp)
        tmp.mkdir()
        with open(tmp / "state.json", "w", encoding="utf-8") as f:
            f.write(json.dumps(state, separators=(",", ":")))
            f.flush()
            os.fsync(f.fileno())
        with open(tmp / "arrays.npz", "wb") as f:
            np.savez(f, **arrays)
            f.flush()
            os.fsync(f.fileno())
        fsync_path(tmp)
        if final.exists():  # the same tick again (e.g. a stop): keep it until replaced
            if old.exists():
                shutil.rmtree(old)
            os.replace(final, old)
        os.replace(tmp, final)
        fsync_path(root)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    shutil.rmtree(old, ignore_errors=True)
    if keep > 0:
        prune_checkpoints(root, keep)
    return final


def prune_checkpoints(root: Path, keep: int) -> None:
    """Remove all but the newest `keep` finished checkpoints (the vector file stays: every
    row a kept checkpoint points to is in it)."""
    for ck in list_checkpoints(root)[:-keep]:
        shutil.rmtree(ck, ignore_errors=True)


def list_checkpoints(root: Path) -> list[Path]:
    """The finished checkpoints, oldest first (a half-written `.tmp` one is not; a `.old`
    one is, if the checkpoint replacing it never arrived)."""
    found: dict[int, Path] = {}
    for p in root.glob("tick-*") if root.is_dir() else ():
        m = _CHECKPOINT_NAME.fullmatch(p.name)
        if m and p.is_dir() and (not m[2] or int(m[1]) not in found):
            found[int(m[1])] = p
    return [found[t] for t in sorted(found)]


def load_checkpoint(ck: Path) -> Checkpoint:
    """A checkpoint's state and arrays; CheckpointError if it is broken."""
    try:
        state = json.loads((ck / "state.json").read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise CheckpointError("no state.json") from None
    except (OSError, UnicodeDecodeError, ValueError) as e:
        raise CheckpointError(f"state.json is unreadable ({str(e).splitlines()[0]})") from None
    missing = [k for k in _STATE_KEYS if k not in state] if isinstance(state, dict) else ["all"]
    if missing:
        raise CheckpointError(f"state.json is incomplete (no {', '.join(missing)})")
    try:
        with np.load(ck / "arrays.npz") as z:
            arrays = {k: z[k] for k in z.files}
    except FileNotFoundError:
        raise CheckpointError("no arrays.npz") from None
    except Exception as e:  # a truncated or corrupt zip: BadZipFile, EOFError, ValueError, ...
        raise CheckpointError(f"arrays.npz is unreadable ({type(e).__name__}: "
                              f"{str(e).splitlines()[0] if str(e) else 'corrupt'})") from None
    try:
        arrays = unpack(arrays)
    except (ValueError, KeyError) as e:
        raise CheckpointError(f"arrays.npz is unreadable ({type(e).__name__}: {e})") from None
    try:
        arrays = join_vectors(ck.parent, arrays)
    except (OSError, ValueError, KeyError) as e:
        raise CheckpointError(f"its embeddings are missing ({str(e).splitlines()[0]})") from None
    return state, arrays
