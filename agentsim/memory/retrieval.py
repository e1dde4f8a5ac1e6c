"""The paper's retrieval score, as a pure vectorised function.

    recency    = decay ** (sim hours since last access)
    importance = the 1-10 score given when the memory was made
    relevance  = cosine similarity of the memory's and the query's embeddings

Each component is min-max normalised over the candidates; when all candidates have the same
value the component carries no information and is 0 for all (it cannot reorder them).
score = w_recency * recency + w_importance * importance + w_relevance * relevance.
"""

from __future__ import annotations

import numpy as np


def _minmax(x: np.ndarray) -> np.ndarray:
    lo, hi = x.min(), x.max()
    if hi - lo <= 1e-12:
        return np.zeros_like(x)
    return (x - lo) / (hi - lo)


def score(
    embeddings: np.ndarray,
    importance: np.ndarray,
    hours_since_access: np.ndarray,
    query: np.ndarray,
    weights: tuple[float, float, float] = (1.0, 1.0, 1.0),
    decay: float = 0.995,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(total, recency, importance, relevance), each of shape (N,), components in 0..1."""
    recency = _minmax(np.power(decay, hours_since_access, dtype=np.float64).astype(np.float32))
    imp = _minmax(importance.astype(np.float32))
    relevance = _minmax(embeddings @ query.astype(np.float32))
    wr, wi, wv = (np.float32(w) for w in weights)
    total = wr * recency + wi * imp + wv * relevance
    return total, recency, imp, relevance


def top_k(total: np.ndarray, k: int) -> np.ndarray:
    """Indices of the k best scores, best first; ties go to the older memory (lower index)."""
    n = total.shape[0]
    if n == 0 or k <= 0:
        return np.empty(0, dtype=np.int64)
    if k < n:
        idx = np.argpartition(-total, k - 1)[:k]
        # argpartition breaks ties arbitrarily: widen to every candidate tied with the k-th.
        kth = total[idx].min()
        idx = np.flatnonzero(total >= kth)
    else:
        idx = np.arange(n)
    order = np.lexsort((idx, -total[idx]))
    return idx[order][:k]
