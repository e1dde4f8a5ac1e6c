"""How Python's cyclic garbage collector runs while a simulation runs (issue 17).

A tick steps every resident at once: a thousand residents' coroutines, prompts, answers and
memories are alive together until the tick ends, so they outlive the young generations and
are promoted to the oldest one. CPython collects the oldest generation after every 10 young
collections once a quarter more objects have been promoted since the last full collection,
which such a tick does every time; each full collection walks the whole heap (the world, the
memory streams, the libraries loaded). At 1,000 residents that was 16 full collections in
2 sim-hours, about 2.4 CPU-s, a quarter of the engine's CPU.

While a run loop runs, `running()`:

- freezes what existed before the run (`gc.freeze`: the world, the agents, the modules
  and models loaded): long-lived by construction, so a full collection need not walk it;
- collects the oldest generation ten times less often (`RUN_FULL_EVERY` young collections
  rather than 10); the quarter-more rule still holds, so the heap does not grow unboundedly.

Both are undone when the outermost run loop returns or raises (the frozen objects go back
to the oldest generation, the thresholds to what they were), so outside a run, e.g. after a
simulation is dropped, the collector is as it was. Nothing a run computes depends on when
the collector runs: the events are the same.
"""

from __future__ import annotations

import contextlib
import gc
from collections.abc import Iterator

RUN_FULL_EVERY = 100  # young (generation 1) collections between full ones while running

_depth = 0  # run loops running now (a fork's run loop may run inside its original's)
_saved: tuple[int, int, int] | None = None


@contextlib.contextmanager
def running() -> Iterator[None]:
    """The collector's policy for the duration of a run loop (see the module docstring).
    Nested or concurrent run loops share it: the outermost one sets it and restores it."""
    global _depth, _saved
    if _depth == 0:
        gen0, gen1, full = gc.get_threshold()
        _saved = (gen0, gen1, full)
        gc.freeze()
        gc.set_threshold(gen0, gen1, max(full, RUN_FULL_EVERY))
    _depth += 1
    try:
        yield
    finally:
        _depth -= 1
        if _depth == 0:
            if _saved is not None:
                gc.set_threshold(*_saved)
                _saved = None
            gc.unfreeze()
