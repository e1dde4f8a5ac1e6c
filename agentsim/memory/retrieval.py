"""The paper's retrieval score, as pure vectorised functions.

    recency    = decay ** (sim hours since the memory was last accessed)
    importance = the 1-10 score given when the memory was made
    relevance  = cosine similarity of the memory's and the query's embeddings

Each component is min-max normalised over the candidates to 0..1. A component is *flat* when
its spread (max - min) over the candidates is at most `FLAT` (1e-6): it then carries no
information, and is 0 for every candidate. This covers a single candidate, and it keeps float
noise (identical embeddings can differ by ~1e-9 in a large matmul) from being blown up into a
full 0..1 spread. A flat component adds the same 0 to every score, so it cannot reorder them.

    total = w_recency * recency + w_importance * importance + w_relevance * relevance
"""

from __future__ import annotations

import threading
from typing import Any

import numpy as np

FLAT = 1e-6

Parts = tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]


class _OneBlasThread:
    """Context manager: numpy's BLAS on one thread (via threadpoolctl, when installed).

    A matrix-vector product is memory-bound, so a second thread gains little, and when the
    machine is busy, waiting for that thread costs a scheduler slice. Measured on 2 shared
    cores, 10,000 x 384: 1.3 ms median on one thread, 1.5-8 ms (p90 12 ms) on two; 100,000 x
    384: 18 ms against 33 ms. One thread also makes the sums independent of the core count.
    Re-entrant and thread-safe: the first to enter sets the limit, the last to leave restores."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._depth = 0
        self._controller: Any = None
        self._limiter: Any = None

    def __enter__(self) -> None:
        with self._lock:
            if self._depth == 0:
                if self._controller is None:
                    try:
                        from threadpoolctl import ThreadpoolController
                    except ImportError:  # optional: without it BLAS keeps its threads
                        self._controller = False
                    else:
                        self._controller = ThreadpoolController()
                if self._controller:
                    self._limiter = self._controller.limit(limits=1, user_api="blas")
            self._depth += 1

    def __exit__(self, *exc: object) -> None:
        with self._lock:
            self._depth -= 1
            if self._depth == 0 and self._limiter is not None:
                self._limiter.restore_original_limits()
                self._limiter = None


_one_blas_thread = _OneBlasThread()


def relevance(embeddings: np.ndarray, query: np.ndarray) -> np.ndarray:
    """Raw cosine similarities (N,) float32 of L2-normalised rows and query."""
    with _one_blas_thread:
        return embeddings @ np.asarray(query, dtype=np.float32)


def minmax(x: np.ndarray) -> np.ndarray:
    """(x - min) / (max - min) as float32; zeros when x is flat (see the module docstring)."""
    if x.size == 0:
        return np.zeros(0, dtype=np.float32)
    lo, hi = float(x.min()), float(x.max())
    if not hi - lo > FLAT:  # `not >` also treats NaN as flat
        return np.zeros(x.shape, dtype=np.float32)
    out = np.subtract(x, lo, dtype=np.result_type(x.dtype, np.float32))
    out /= hi - lo
    return out.astype(np.float32, copy=False)


def combine(
    cosine: np.ndarray,
    importance: np.ndarray,
    last_accessed_hours: np.ndarray,
    weights: tuple[float, float, float] = (1.0, 1.0, 1.0),
    decay: float = 0.995,
) -> Parts:
    """`score` from raw cosine similarities, for callers that already have them."""
    # float64 for the power: 0.995 ** h underflows float32 after ~18,000 hours (two years)
    recency = minmax(np.power(decay, last_accessed_hours, dtype=np.float64))
    imp = minmax(importance)
    rel = minmax(cosine)
    wr, wi, wv = (float(w) for w in weights)
    total = recency * np.float32(wr)
    total += np.float32(wi) * imp
    total += np.float32(wv) * rel
    return total, recency, imp, rel


def score(
    embeddings: np.ndarray,
    importance: np.ndarray,
    last_accessed_hours: np.ndarray,
    query: np.ndarray,
    weights: tuple[float, float, float] = (1.0, 1.0, 1.0),
    decay: float = 0.995,
) -> Parts:
    """(total, recency, importance, relevance) of N candidates, each (N,) float32.

    embeddings: (N, d) float32, rows L2-normalised; importance: (N,) ints 1..10;
    last_accessed_hours: (N,) sim hours since last access, >= 0; query: (d,) normalised.
    The three components are normalised to 0..1; total is their weighted sum.
    """
    return combine(relevance(embeddings, query), importance, last_accessed_hours, weights, decay)


def top_k(total: np.ndarray, k: int) -> np.ndarray:
    """Indices of the k best scores, best first; equal scores go to the lower index (the older
    memory), so the result never depends on how argpartition happened to break ties."""
    n = total.shape[0]
    k = min(k, n)
    if k <= 0:
        return np.empty(0, dtype=np.intp)
    if k < n:
        kth = total[np.argpartition(total, n - k)[n - k:]].min()
        above = np.flatnonzero(total > kth)  # fewer than k of them
        tied = np.flatnonzero(total == kth)[: k - above.size]  # the lowest indices tied at kth
        idx = np.concatenate((above, tied))
    else:
        idx = np.arange(n)
    return idx[np.lexsort((idx, -total[idx]))]
