"""How each template's answer format should be shown to a model behind a grammar: a real
model (SmolLM2-135M-Instruct, the `local` extra) answers the same requests with the full JSON
example, the compact shape, or nothing in the prompt (`Contract.shown`).

    python benchmarks/bench_examples.py [--world worlds/smallville] [--hours 2] [--per 4]
        [--shown json compact none] [--templates day_plan decompose summary ...]

The requests are real ones: the world runs `--hours` from 06:00 on the offline mind (fast,
seed 0), and the first `--per` requests of each template are kept (their variables and
output model). Each is then asked of the local model, once per choice of `--shown` (a fresh
client each time, so no answer is reused), and the answers are counted by origin: the model's
own (model, repaired, reasked) or the fallback's. The grammar holds every answer to the
schema's syntax; what differs is whether the model writes something the validators accept.
One request runs at a time, so a choice that makes the model ramble costs its token limit.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
MODEL = ("model", "repaired", "reasked")


def capture(world: str, hours: float, per: int, only_order: list[str] | None
            ) -> dict[str, list[tuple[dict[str, Any], Any, str, str | None]]]:
    """The first `per` requests of each template in an offline run of `world` (of the
    templates `only_order`, in that order, if given)."""
    only = set(only_order) if only_order else None
    from agentsim.experiment import Simulation
    from agentsim.llm.client import LLMClient

    kept: dict[str, list[tuple[dict[str, Any], Any, str, str | None]]] = defaultdict(list)
    ask = LLMClient.ask

    async def spy(self, template_id, variables, *, schema=None, tier="smart", agent=None):
        if schema is not None and len(kept[template_id]) < per and \
                (only is None or template_id in only):
            kept[template_id].append((dict(variables), schema, tier, agent))
        return await ask(self, template_id, variables, schema=schema, tier=tier, agent=agent)

    LLMClient.ask = spy  # type: ignore[method-assign]
    try:
        sim = Simulation.load(world, seed=0, embedder="hash", llm="offline")
        sim.run(ticks=int(hours * 60 / sim.clock.tick_minutes))
        sim.close()
    finally:
        LLMClient.ask = ask  # type: ignore[method-assign]
    order = list(only_order) if only_order else list(kept)
    return {t: kept[t] for t in order if kept.get(t)}


def ask_all(world: str, shown: str, requests) -> dict[str, dict[str, int]]:
    """Every request asked of the local model with each template shown as `shown`: the
    answers' origins by template."""
    from agentsim.contracts import CONTRACTS
    from agentsim.experiment import Simulation

    saved = {t: c.shown for t, c in CONTRACTS.items()}
    for c in CONTRACTS.values():
        object.__setattr__(c, "shown", shown)  # frozen: the experiment's one override
    try:
        sim = Simulation.load(world, seed=0, embedder="hash", llm="local", fallback="offline",
                              give_up_after=0)
        llm = sim.llm

        async def run() -> None:
            for template_id, items in requests.items():
                for variables, schema, tier, agent in items:
                    t0 = time.perf_counter()
                    await llm.ask(template_id, variables, schema=schema, tier=tier, agent=agent)
                    row = llm.usage.by_template[template_id]
                    print(f"    {template_id}: {dict(row.origins)} "
                          f"{time.perf_counter() - t0:.1f} s", flush=True)

        asyncio.run(run())
        out = {t: dict(row.origins) for t, row in llm.usage.by_template.items()}
        sim.close()
        return out
    finally:
        for t, c in CONTRACTS.items():
            object.__setattr__(c, "shown", saved[t])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--world", default=str(ROOT / "worlds" / "smallville"))
    ap.add_argument("--hours", type=float, default=2.0)
    ap.add_argument("--per", type=int, default=4, help="requests kept per template")
    ap.add_argument("--shown", nargs="+", default=["json", "compact", "none"])
    ap.add_argument("--templates", nargs="*", default=None)
    a = ap.parse_args()
    print("$ python benchmarks/bench_examples.py" + "".join(f" {x}" for x in sys.argv[1:]))
    requests = capture(a.world, a.hours, a.per, a.templates)
    table: dict[str, dict[str, str]] = defaultdict(dict)
    for shown in a.shown:
        t0 = time.perf_counter()
        origins = ask_all(a.world, shown, requests)
        print(f"shown={shown}: {time.perf_counter() - t0:.0f} s", flush=True)
        for template, o in sorted(origins.items()):
            n = sum(o.values())
            own = sum(o.get(k, 0) for k in MODEL)
            table[template][shown] = f"{own}/{n}"
            print(f"  {template:20} model {own}/{n}  {o}", flush=True)
    print("\n| template | " + " | ".join(a.shown) + " |")
    print("|---|" + "---|" * len(a.shown))
    for template in sorted(table):
        print(f"| {template} | " + " | ".join(table[template].get(s, "-") for s in a.shown)
              + " |")


if __name__ == "__main__":
    main()
