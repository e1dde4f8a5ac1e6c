"""One simulation over 2 Ray actors (agentsim.distributed) equals the single-process run byte
for byte, its checkpoints open as a normal run, and its LLM traffic keeps one global in-flight
limit and budget (counted by a fake backend, not timed)."""

from __future__ import annotations

import asyncio
import functools
import json
import random
import sys
from pathlib import Path

import numpy as np
import pytest

ray = pytest.importorskip("ray")

from agentsim.distributed import distribute  # noqa: E402
from agentsim.experiment import Simulation  # noqa: E402
from agentsim.llm.factory import compose  # noqa: E402
from agentsim.llm.offline import OfflineMind  # noqa: E402
from agentsim.llm.prompts import PromptLibrary  # noqa: E402

TINY = str(Path(__file__).resolve().parent / "fixtures" / "tiny_world")
SMALLVILLE = str(Path(__file__).resolve().parents[1] / "worlds" / "smallville")

# the fakes below go to the Ray workers by value (the workers cannot import a test module)
ray.cloudpickle.register_pickle_by_value(sys.modules[__name__])


@pytest.fixture(scope="module")
def local_ray():
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    yield
    ray.shutdown()


def _run(world: str, out: Path, shards: int, hours: float, **options) -> Simulation:
    sim = Simulation.load(world, seed=5, llm="offline", embedder="hash", out=str(out),
                          **options)
    if shards > 1:
        distribute(sim, shards)
    sim.run(hours=hours)
    sim.close()
    return sim


def _events(sim: Simulation) -> bytes:
    assert sim.run_dir is not None
    return (sim.run_dir.path / "events.jsonl").read_bytes()


@pytest.mark.slow
@pytest.mark.parametrize("world, hours", [(TINY, 3), (SMALLVILLE, 3)], ids=["tiny", "smallville"])
def test_two_shards_give_the_same_events_byte_for_byte(local_ray, tmp_path, world, hours):
    one = _run(world, tmp_path / "one", 1, hours)
    two = _run(world, tmp_path / "two", 2, hours)
    assert _events(two) == _events(one)
    # the run's LLM record holds every shard's answers (a sharded run replays in one process)
    llm = [sorted((s.run_dir.path / "llm.jsonl").read_text().splitlines()) for s in (one, two)]
    assert llm[0] == llm[1] and llm[0]
    events = [json.loads(line) for line in _events(two).splitlines()]
    talks = [e for e in events if e["type"] == "conversation"]
    assert talks, "the run should have conversations"
    # residents are placed round robin in id order: some talks are between the two shards
    ids = sorted(two.world.personas)
    home = {two.world.personas[a].name: i % 2 for i, a in enumerate(ids)}
    home.update({a: i % 2 for i, a in enumerate(ids)})
    assert any(len({home[p] for p in t["participants"]}) == 2 for t in talks)
    # the checkpoint a sharded run wrote opens as a normal run, equal to the single one's
    opened = [Simulation.open(str(s.run_dir.path)) for s in (one, two)]
    (s1, a1), (s2, a2) = (o.get_state() for o in opened)
    assert s1["agents"] == s2["agents"] and s1["relationships"] == s2["relationships"]
    assert s1["tick"] == s2["tick"] and s1.get("skills") == s2.get("skills")
    assert s1["llm"]["usage"]["total"]["calls"] == s2["llm"]["usage"]["total"]["calls"] > 0
    assert sorted(a1) == sorted(a2)
    assert all(np.array_equal(a1[k], a2[k]) for k in a1)


@pytest.mark.slow
def test_a_sharded_run_resumes_as_a_normal_run_does(local_ray, tmp_path):
    """Restoring a state places the residents on the shards again: 1 hour, a checkpoint, then
    another hour on the shards equals 2 hours in one process."""
    one = _run(TINY, tmp_path / "one", 1, 2)
    half = Simulation.load(TINY, seed=5, llm="offline", embedder="hash", out=None)
    half.run(hours=1)
    state = half.get_state()
    two = Simulation.load(TINY, seed=5, llm="offline", embedder="hash", out=None)
    distribute(two, 2)
    two.set_state(*state)
    two.events = list(half.events)
    two.run(hours=1)
    mine = two.get_state()[0]
    theirs = Simulation.open(str(one.run_dir.path)).get_state()[0]
    assert mine["agents"] == theirs["agents"] and mine["objects"] == theirs["objects"]
    two.shards.close()


class Counter:
    """How many requests are out at once over every shard (a Ray actor)."""

    def __init__(self) -> None:
        self.now = self.most = self.calls = 0

    def enter(self) -> None:
        self.now += 1
        self.calls += 1
        self.most = max(self.most, self.now)

    def leave(self) -> None:
        self.now -= 1

    def seen(self) -> tuple[int, int]:
        return self.most, self.calls


class CountedMind:
    """The offline mind as a backend whose requests the Counter sees, each held a moment so
    that requests from both shards would overlap if nothing kept them apart."""

    def __init__(self, counter):
        self.inner = OfflineMind()
        self.name, self.model, self.counter = "offline", self.inner.model, counter

    async def complete(self, prompt):
        await self.counter.enter.remote()
        try:
            await asyncio.sleep(0.01)
            return await self.inner.complete(prompt)
        finally:
            await self.counter.leave.remote()

    async def aclose(self) -> None:
        return None


def counted_client(counter):
    backend = CountedMind(counter)
    return compose({"smart": backend, "fast": backend}, PromptLibrary(), rng=random.Random(0),
                   fallback=OfflineMind(), fallback_policy="offline")


@pytest.mark.slow
@pytest.mark.parametrize("limit", [1, 3])
def test_one_in_flight_limit_over_every_shard(local_ray, limit):
    counter = ray.remote(num_cpus=0)(Counter).remote()
    sim = Simulation.load(TINY, seed=5, llm="offline", embedder="hash", out=None)
    distribute(sim, 2, make_llm=functools.partial(counted_client, counter),
               max_in_flight=limit)
    sim.run(hours=2)
    most, calls = ray.get(counter.seen.remote())
    assert calls >= 5 and 1 <= most <= limit
    if limit > 1:  # the counter does see requests overlap when the limit lets them
        assert most > 1
    assert sim.llm.usage.total.calls == calls  # the coordinator reports every shard's spend
    sim.shards.close()


@pytest.mark.slow
def test_one_budget_over_every_shard(local_ray):
    sim = Simulation.load(TINY, seed=5, llm="offline", embedder="hash", out=None,
                          budget_calls=15, max_in_flight=1)
    distribute(sim, 2)
    reason = sim.run(hours=3)
    assert reason == "LLM call budget of 15 spent"
    assert sim.llm.usage.total.calls == 15  # the shards together, not 15 each
    sim.shards.close()


@pytest.mark.slow
def test_a_whisper_between_ticks_reaches_a_resident_on_a_shard(local_ray, tmp_path):
    runs, heard = [], []
    for shards in (1, 2):
        sim = Simulation.load(TINY, seed=5, llm="offline", embedder="hash",
                              out=str(tmp_path / str(shards)))
        if shards > 1:
            distribute(sim, shards)
        sim.run(hours=1)
        # called as in one process: the residents are brought whole for it and sent back
        sim.whisper("Bob Park", "The cafe gives free coffee at nine today")
        heard.append(sim.retrieve("Bob Park", "free coffee", k=1)[0].record.text)
        sim.run(hours=1)
        sim.close()
        runs.append(sim)
    assert heard == ["The cafe gives free coffee at nine today"] * 2
    assert _events(runs[1]) == _events(runs[0])
    state = Simulation.open(str(runs[1].run_dir.path)).get_state()[0]
    assert "free coffee" in json.dumps(state["agents"]["bob_park"]["memory"])


@pytest.mark.slow
def test_agentsim_run_with_shards_equals_one_process(local_ray, tmp_path):
    from click.testing import CliRunner

    from agentsim.cli import main

    for n in (1, 2):
        args = ["run", TINY, "--llm", "offline", "--embedder", "hash", "--hours", "1",
                "--headless", "--shards", str(n), "--out", str(tmp_path / str(n))]
        result = CliRunner().invoke(main, args)
        assert result.exit_code == 0, result.output
    one, two = (next((tmp_path / str(n)).glob("tiny_world-*")) for n in (1, 2))
    assert (two / "events.jsonl").read_bytes() == (one / "events.jsonl").read_bytes()
    assert json.loads((two / "manifest.json").read_text())["options"]["shards"] == 2


def test_shards_is_at_least_one():
    from agentsim.errors import UserError
    from agentsim.options import RunOptions

    with pytest.raises(UserError, match=r"RunOptions\.shards"):
        RunOptions(shards=0)
