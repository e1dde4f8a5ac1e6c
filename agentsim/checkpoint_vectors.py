"""The memories' embeddings of a run's checkpoints, stored once: a content-addressed file of
float32 rows (`vectors-<dim>.f32`, next to the `checkpoints/` folder, which holds only
checkpoints) that every checkpoint points into.

An agent's memories only grow, and many agents remember the same texts, so nearly every
vector of a checkpoint is already in the previous one. Storing each distinct vector once
(keyed by its bytes) and keeping row numbers in the checkpoint takes a 25-resident run from
about 2.6 MB of checkpoints per daytime hour (every vector copied into every checkpoint) to
the new vectors alone.

Crash safety: the file is only appended to, and fsynced before the checkpoint that points
into it is renamed into place, so a checkpoint never refers to a row that is not on disk. A
torn last row (a crash while appending) is dropped the next time the file is opened.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import numpy as np

ROWS_SUFFIX = "/embedding_rows"  # an arrays key: the rows of that agent's embeddings
VECTORS_SUFFIX = "/embeddings"


def vectors_path(root: Path, dim: int) -> Path:
    """The vector file of the checkpoints in folder `root`, for vectors of `dim`."""
    return root.parent / f"vectors-{dim}.f32"


class VectorFile:
    """Distinct float32 vectors of one dimension, appended to one file, found by content."""

    def __init__(self, path: Path, dim: int):
        self.path, self.dim = path, dim
        self._row_bytes = 4 * dim
        self._rows: dict[bytes, int] = {}
        self._count = 0
        if path.exists():
            whole = path.stat().st_size // self._row_bytes
            if path.stat().st_size != whole * self._row_bytes:  # a torn last row
                os.truncate(path, whole * self._row_bytes)
            data = np.fromfile(path, dtype=np.float32, count=whole * dim).reshape(whole, dim)
            for i, row in enumerate(data):
                self._rows.setdefault(self._digest(row.tobytes()), i)
            self._count = whole

    @staticmethod
    def _digest(raw: bytes) -> bytes:
        return hashlib.blake2b(raw, digest_size=16).digest()

    def add(self, vectors: np.ndarray) -> np.ndarray:
        """The row of each vector (appending, unsynced, those not stored yet)."""
        vectors = np.ascontiguousarray(vectors, dtype=np.float32).reshape(-1, self.dim)
        rows = np.empty(len(vectors), dtype=np.int32)
        new: list[bytes] = []
        for i, vec in enumerate(vectors):
            raw = vec.tobytes()
            key = self._digest(raw)
            row = self._rows.get(key)
            if row is None:
                row = self._rows[key] = self._count
                self._count += 1
                new.append(raw)
            rows[i] = row
        if new:
            with open(self.path, "ab") as f:
                f.write(b"".join(new))
        return rows

    def sync(self) -> None:
        """fsync what was appended (before a checkpoint pointing into it is published)."""
        if self.path.exists():
            with open(self.path, "rb+") as f:
                os.fsync(f.fileno())


def split_vectors(root: Path, arrays: dict[str, np.ndarray],
                  files: dict[int, VectorFile]) -> dict[str, np.ndarray]:
    """`arrays` with every 2-D float32 `<agent>/embeddings` replaced by its rows in the
    vector file of its dimension (`files` caches one per dimension), synced to disk."""
    out: dict[str, np.ndarray] = {}
    used: set[int] = set()
    for key, value in arrays.items():
        arr = np.asarray(value)
        if key.endswith(VECTORS_SUFFIX) and arr.ndim == 2 and arr.dtype == np.float32:
            dim = arr.shape[1]
            if dim not in files:
                files[dim] = VectorFile(vectors_path(root, dim), dim)
            out[key[: -len(VECTORS_SUFFIX)] + ROWS_SUFFIX] = files[dim].add(arr)
            out[key + "_dim"] = np.asarray(dim, dtype=np.int32)
            used.add(dim)
        else:
            out[key] = value
    for dim in used:
        files[dim].sync()
    return out


def join_vectors(root: Path, arrays: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """The inverse of `split_vectors`: rows looked up in the checkpoints' vector files (a
    checkpoint written before them, with its vectors inline, comes back as it is)."""
    out: dict[str, np.ndarray] = {}
    loaded: dict[int, np.ndarray] = {}
    for key, value in arrays.items():
        if key.endswith(ROWS_SUFFIX):
            base = key[: -len(ROWS_SUFFIX)] + VECTORS_SUFFIX
            dim = int(arrays[base + "_dim"])
            path = vectors_path(root, dim)
            if dim not in loaded:
                loaded[dim] = np.fromfile(path, dtype=np.float32).reshape(-1, dim) \
                    if path.exists() else np.zeros((0, dim), dtype=np.float32)
            rows = np.asarray(value, dtype=np.int64)
            if len(rows) and int(rows.max()) >= len(loaded[dim]):
                raise ValueError(f"{path.name} has {len(loaded[dim])} rows, the checkpoint "
                                 f"points to row {int(rows.max())}")
            out[base] = loaded[dim][rows].copy() if len(rows) else \
                np.zeros((0, dim), dtype=np.float32)
        elif not key.endswith(VECTORS_SUFFIX + "_dim"):
            out[key] = value
    return out
