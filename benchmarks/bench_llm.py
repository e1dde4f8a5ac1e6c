"""The LLM layer under load: Smallville against the fake OpenAI-compatible server.

    python benchmarks/bench_llm.py [--agents 25 100] [--latency 0.2] [--hours 1] [--day]

For each agent count it runs the engine against the fake server (the offline mind answers
behind it, so agents behave as in an offline run) at a fixed latency per request, and prints:

- wall time per tick against the "ideal": the most calls one agent makes in the tick's steps
  plus the longest conversation (its turns, then remembering), times the latency. Since issue
  17 an agent's step runs some of its calls side by side (the next action beside remembering
  and reacting, the summary's aspects together, the plan critique deferred beside the talks;
  the next tick's steps foreseen beside the talks: `agentsim.llm.foresight`),
  so this count is an upper bound on the chain; `--chain` measures the chain itself;
- LLM calls and tokens per agent per simulated hour; the server's peak requests in flight.

`--day` also runs one whole simulated day (25 agents, latency 0) and prints the tokens per
agent per game day: the token economy of the full architecture.

`--chain` measures the chain of model latencies a tick waits on from outside the process
(issue 17): the same run (25 agents, 12 ticks by default) in a child process at latency 0
and at `--latency`, each timed from this process, so start-up, the engine's CPU and the
client's own cost cancel out:

    chain per tick = (wall at latency L - wall at latency 0) / L / ticks

It also prints the tokens per resident per sim-hour, the requests foreseen (`agentsim.ahead`)
that the ticks took and those never taken (`wasted`: a guess that was wrong; the server
counts them in the tokens), and whether both runs published the same events (a digest of
the event log: the order of results must not depend on timing). With `--per-tick`, each
tick's own chain (its wall at `--latency` minus at 0, over the latency; timed inside each
child, so noisier than the total) and its number of conversations.
"""

from __future__ import annotations

import argparse
import contextlib
import contextvars
import dataclasses
import hashlib
import json
import subprocess
import sys
import time
import urllib.request
from collections import defaultdict
from pathlib import Path

import agentsim.ahead as ahead_module
import agentsim.engine as engine_module
from agentsim.events import TickEnded
from agentsim.experiment import Simulation
from agentsim.llm.factory import client_for
from agentsim.llm.offline import OfflineMind
from agentsim.llm.openai_backend import OpenAIBackend
from agentsim.memory.embed import BatchingEmbedder, make_embedder
from agentsim.world.loader import load_world

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_engine import replicate

ROOT = Path(__file__).resolve().parent.parent
_phase: contextvars.ContextVar[str | None] = contextvars.ContextVar("phase", default=None)


class ChainCounter:
    """Wraps the LLM client and counts calls per (tick, chain): an agent's step or a talk."""

    def __init__(self, llm, sim_ref):
        self.llm = llm
        self.sim_ref = sim_ref
        self.calls: dict[tuple[int, str, str], int] = defaultdict(int)

    async def ask(self, template_id, variables, *, schema=None, tier="smart", agent=None):
        tick = self.sim_ref[0].clock.tick
        pair = _phase.get()
        if pair is None:
            key = (tick, "step", agent or "?")
        elif template_id == "converse_turn":
            key = (tick, "turns", pair)
        else:  # each participant remembers the talk, in parallel with the other
            key = (tick, "after", f"{pair}/{agent}")
        self.calls[key] += 1
        return await self.llm.ask(template_id, variables, schema=schema, tier=tier, agent=agent)

    def ideal_chain(self) -> int:
        steps: dict[int, int] = defaultdict(int)
        talks: dict[tuple[int, str], int] = defaultdict(int)
        after: dict[tuple[int, str], int] = defaultdict(int)
        for (tick, kind, key), n in self.calls.items():
            if kind == "step":
                steps[tick] = max(steps[tick], n)
            elif kind == "turns":
                talks[tick, key] += n
            else:
                pair = key.split("/")[0]
                after[tick, pair] = max(after[tick, pair], n)
        longest_talk: dict[int, int] = defaultdict(int)
        for (tick, pair), n in talks.items():
            longest_talk[tick] = max(longest_talk[tick], n + after[tick, pair])
        return sum(steps.values()) + sum(longest_talk.values())

    def __getattr__(self, name):
        return getattr(self.llm, name)


_real_converse = engine_module.converse


async def _traced_converse(a, b, rel, ctx, opening=None):
    _phase.set(f"{a.id}+{b.id}")
    await _real_converse(a, b, rel, ctx, opening)


@contextlib.contextmanager
def server_process(latency: float):
    """The fake server in a process of its own, as a real server would be."""
    proc = subprocess.Popen([sys.executable, "-m", "agentsim.testing.fake_server",
                             "--latency", str(latency)], stdout=subprocess.PIPE, text=True)
    try:
        yield proc.stdout.readline().strip()
    finally:
        proc.terminate()
        proc.wait()


def _stats(base_url: str) -> dict:
    with urllib.request.urlopen(base_url + "/stats") as r:
        return json.loads(r.read())


def run(n_agents: int, latency: float, hours: float, start_hour: int, *,
        digest: bool = False) -> dict:
    world = replicate(load_world(ROOT / "worlds" / "smallville"), n_agents)
    spec = world.spec.model_copy(update={"start": world.spec.start.replace(hour=start_hour)})
    world = dataclasses.replace(world, spec=spec)
    with server_process(latency) as base_url:
        backend = OpenAIBackend("fake-model", base_url=base_url, name="compat",
                                send_request_meta=True)
        client = client_for(backend, fallback=OfflineMind(), max_in_flight=4 * n_agents)
        ref: list[Simulation] = []
        counter = ChainCounter(client, ref)
        sim = Simulation(world, counter, BatchingEmbedder(make_embedder("hash")).embed, seed=1)
        ref.append(sim)
        engine_module.converse = ahead_module.converse = _traced_converse
        marks: list[float] = []  # when each tick ended
        sim.bus.subscribe(lambda e: marks.append(time.perf_counter())
                          if isinstance(e, TickEnded) else None)
        try:
            t0 = time.perf_counter()
            sim.run(hours=hours)
            wall = time.perf_counter() - t0
        finally:
            engine_module.converse = ahead_module.converse = _real_converse
        usage = client.usage.total
        peak = _stats(base_url)["max_in_flight"]
        sim.close()
    ticks = sim.clock.tick
    ideal = counter.ideal_chain() * latency
    return {
        "agents": n_agents, "ticks": ticks, "wall_per_tick": wall / ticks,
        "ideal_per_tick": ideal / ticks, "overhead": wall / ideal - 1 if ideal else float("nan"),
        "calls_per_agent_hour": usage.calls / n_agents / hours,
        "tokens_per_agent_hour": usage.tokens / n_agents / hours, "peak_in_flight": peak,
        "retries": usage.retries,
        # foreseen requests the ticks took, and those never taken (sent in vain)
        "taken": sim.tally.taken.total(), "wasted": sim.tally.wasted.total(),
        "wasted_by_template": dict(sim.tally.wasted),
        "tick_walls": [b - a for a, b in zip([t0, *marks], marks, strict=False)],
        "talks": [sum(1 for e in sim.events if e.type == "conversation" and e.tick == t)
                  for t in range(ticks)],
        **({"digest": _events_digest(sim)} if digest else {}),
    }


def _events_digest(sim: Simulation) -> str:
    h = hashlib.sha256()
    for e in sim.events:
        h.update(e.to_json().encode())
    return h.hexdigest()[:16]


def child(n_agents: int, latency: float, hours: float, start_hour: int) -> None:
    """One timed run for `--chain`: prints its figures and the events' digest as JSON."""
    r = run(n_agents, latency, hours, start_hour, digest=True)
    print(json.dumps(r))


def chain(n_agents: int, latency: float, hours: float, start_hour: int) -> dict:
    """Wall of the same run at latency 0 and at `latency`, each in a child process timed
    from here; see the module docstring."""
    walls, runs = {}, {}
    for lat in (0.0, latency):
        cmd = [sys.executable, __file__, "--child", str(n_agents), str(lat), str(hours),
               str(start_hour)]
        t0 = time.perf_counter()
        out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
        walls[lat] = time.perf_counter() - t0
        runs[lat] = json.loads(out.strip().splitlines()[-1])
    ticks = runs[latency]["ticks"]
    return {"agents": n_agents, "ticks": ticks, "wall_0": walls[0.0], "wall_l": walls[latency],
            "chain_per_tick": (walls[latency] - walls[0.0]) / latency / ticks,
            "ideal_per_tick": runs[latency]["ideal_per_tick"] / latency,
            "tokens_per_agent_hour": runs[latency]["tokens_per_agent_hour"],
            "calls_per_agent_hour": runs[latency]["calls_per_agent_hour"],
            "taken": runs[latency]["taken"], "wasted": runs[latency]["wasted"],
            "same_events": runs[0.0]["digest"] == runs[latency]["digest"],
            # each tick's own chain (its wall at `latency` minus at 0; one process each, so
            # noisier than the total), and its conversations
            "per_tick": [(b - a) / latency for a, b in zip(runs[0.0]["tick_walls"],
                                                            runs[latency]["tick_walls"],
                                                            strict=True)],
            "talks": runs[latency]["talks"]}


def day(n_agents: int) -> dict:
    r = run(n_agents, 0.0, 24.0, 6)
    return {"agents": n_agents, "tokens_per_agent_day": r["tokens_per_agent_hour"] * 24,
            "calls_per_agent_day": r["calls_per_agent_hour"] * 24}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--agents", type=int, nargs="+", default=[25, 100])
    ap.add_argument("--latency", type=float, default=0.2)
    ap.add_argument("--hours", type=float, default=1.0)
    ap.add_argument("--start-hour", type=int, default=8)
    ap.add_argument("--day", action="store_true", help="also measure a whole day's tokens")
    ap.add_argument("--chain", action="store_true",
                    help="measure the chain of latencies per tick from outside the process")
    ap.add_argument("--per-tick", action="store_true",
                    help="with --chain: also print each tick's chain and its conversations")
    ap.add_argument("--child", nargs=4, metavar=("AGENTS", "LATENCY", "HOURS", "START"),
                    help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        n, lat, hours, start = args.child
        child(int(n), float(lat), float(hours), int(start))
        return
    if args.chain:
        print("$ python benchmarks/bench_llm.py " + " ".join(sys.argv[1:]))
        print(f"{'agents':>6} {'ticks':>5} {'wall 0 s':>8} {'wall L s':>8} {'chain/tick':>10} "
              f"{'ideal/tick':>10} {'calls/agent/h':>13} {'tokens/agent/h':>14} {'taken':>5} "
              f"{'wasted':>6} same events")
        for n in args.agents:
            r = chain(n, args.latency, args.hours, args.start_hour)
            print(f"{r['agents']:>6} {r['ticks']:>5} {r['wall_0']:>8.2f} {r['wall_l']:>8.2f} "
                  f"{r['chain_per_tick']:>10.2f} {r['ideal_per_tick']:>10.2f} "
                  f"{r['calls_per_agent_hour']:>13.1f} {r['tokens_per_agent_hour']:>14.0f} "
                  f"{r['taken']:>5} {r['wasted']:>6} {'yes' if r['same_events'] else 'NO'}")
            if args.per_tick:
                print("  tick  chain  talks")
                for t, (c, k) in enumerate(zip(r["per_tick"], r["talks"], strict=True)):
                    print(f"  {t:>4} {c:>6.2f} {k:>6}")
        return
    print("$ python benchmarks/bench_llm.py " + " ".join(sys.argv[1:]))
    print(f"latency {args.latency * 1000:.0f} ms per request, {args.hours:g} sim-hour(s) from "
          f"{args.start_hour:02d}:00")
    print(f"{'agents':>6} {'ticks':>5} {'wall s/tick':>11} {'ideal s/tick':>12} {'overhead':>8} "
          f"{'calls/agent/h':>13} {'tokens/agent/h':>14} {'peak in flight':>14}")
    for n in args.agents:
        r = run(n, args.latency, args.hours, args.start_hour)
        print(f"{r['agents']:>6} {r['ticks']:>5} {r['wall_per_tick']:>11.2f} "
              f"{r['ideal_per_tick']:>12.2f} {r['overhead']:>8.1%} "
              f"{r['calls_per_agent_hour']:>13.1f} {r['tokens_per_agent_hour']:>14.0f} "
              f"{r['peak_in_flight']:>14}")
    if args.day:
        d = day(25)
        print(f"one game day (06:00 to 06:00), 25 agents: {d['tokens_per_agent_day']:,.0f} tokens"
              f" and {d['calls_per_agent_day']:.0f} calls per agent")


if __name__ == "__main__":
    main()
