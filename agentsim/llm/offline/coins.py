"""Stable coins for the offline mind: nothing here is random in the usual sense.

A "coin" is a stable hash (blake2b) of the run seed and the identifying parts of a decision
(who decides, about whom or what), so the same request always gets the same answer while
different agents answer differently, and a different seed changes every decision.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from typing import Any, TypeVar

T = TypeVar("T")


def unit(seed: int, *key: Any) -> float:
    """A stable number in [0, 1) for (seed, key...)."""
    blob = json.dumps([seed, *key], ensure_ascii=False, sort_keys=True,
                      default=str).encode("utf-8", "surrogatepass")
    digest = hashlib.blake2b(blob, digest_size=8).digest()
    return int.from_bytes(digest, "big") / 2**64


def coin(p: float, seed: int, *key: Any) -> bool:
    """True with probability `p`, stably for the same (seed, key...)."""
    return unit(seed, *key) < p


def pick(options: Sequence[T], seed: int, *key: Any) -> T:
    """One of `options`, stably for the same (seed, key...)."""
    return options[int(unit(seed, *key) * len(options))]
