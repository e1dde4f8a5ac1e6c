"""The collector's policy while a run loop runs (agentsim.gc_policy): what existed before the
run is frozen and full collections are rarer, both undone when the run returns or raises."""

from __future__ import annotations

import gc
from pathlib import Path

import pytest

from agentsim.events import TickEnded
from agentsim.experiment import Simulation
from agentsim.gc_policy import RUN_FULL_EVERY, running

TINY = Path(__file__).resolve().parent / "fixtures" / "tiny_world"


def test_a_run_freezes_the_heap_and_collects_fully_less_often_then_restores_both():
    before = gc.get_threshold()
    sim = Simulation.load(str(TINY), seed=0, embedder="hash")
    seen: list[tuple[int, int]] = []
    sim.bus.subscribe(lambda e: isinstance(e, TickEnded) and seen.append(
        (gc.get_freeze_count(), gc.get_threshold()[2])))
    sim.run(ticks=2)
    assert len(seen) == 2
    assert all(frozen > 0 and full == max(before[2], RUN_FULL_EVERY) for frozen, full in seen)
    assert gc.get_freeze_count() == 0 and gc.get_threshold() == before
    sim.close()


def test_nested_run_loops_share_the_policy_and_an_error_restores_it():
    before = gc.get_threshold()
    with pytest.raises(RuntimeError), running():
        with running():
            pass
        # the inner one left it in force (frozen objects may die meanwhile: some are left)
        assert gc.get_freeze_count() > 0
        assert gc.get_threshold()[2] == max(before[2], RUN_FULL_EVERY)
        raise RuntimeError("a run that fails")
    assert gc.get_freeze_count() == 0 and gc.get_threshold() == before
