"""What a real local model costs: SmolLM2-135M-Instruct (the `local` extra) in process.

    python benchmarks/bench_local.py [--world worlds/smallville] [--ticks 6] [--threads 2]

Prints: the model's prompt and generation speed on this machine (a fixed prompt, timed
apart); then a short run of the world on `--llm local` (hash embedder, seed 0): per template
the calls, prompt and answer tokens and seconds; calls and seconds per tick, extrapolated to
a sim-hour; the share of answers the model gave (the rest: repaired, re-asked or the
fallback); and the share of prompt tokens that repeat the start of the previous prompt,
which llama.cpp does not evaluate again (it keeps its KV cache for a shared prefix).
One request runs at a time: llama-cpp-python's `Llama` has one context, so there is no
batching of two requests to measure here.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def speeds(backend) -> tuple[float, float]:
    """(prompt tokens/s, generated tokens/s) on a fixed prompt, the cache cleared first."""
    llama = backend._load()
    text = ("The residents of the town wake up, have breakfast, go to work and meet their "
            "friends at the cafe in the afternoon. ") * 12
    messages = [{"role": "user", "content": text + "Summarize this in one sentence."}]
    llama.reset()
    t0 = time.perf_counter()
    out = llama.create_chat_completion(messages=messages, max_tokens=1, temperature=0.0)
    prompt_s = time.perf_counter() - t0
    n_prompt = out["usage"]["prompt_tokens"]
    llama.reset()
    t0 = time.perf_counter()
    out = llama.create_chat_completion(messages=messages, max_tokens=96, temperature=0.0)
    total = time.perf_counter() - t0
    n_gen = out["usage"]["completion_tokens"]
    return n_prompt / prompt_s, max(1, n_gen - 1) / max(1e-6, total - prompt_s)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--world", default=str(ROOT / "worlds" / "smallville"))
    ap.add_argument("--ticks", type=int, default=6)
    ap.add_argument("--threads", type=int, default=0, help="0: all cores")
    a = ap.parse_args()
    print("$ python benchmarks/bench_local.py" + "".join(f" {x}" for x in sys.argv[1:]))

    from agentsim.experiment import Simulation

    sim = Simulation.load(a.world, seed=0, embedder="hash", llm="local", fallback="offline")
    backend = sim.llm.backends["smart"]
    if a.threads:
        backend.n_threads = a.threads
    p_rate, g_rate = speeds(backend)
    print(f"model {backend.model}, n_ctx {backend.n_ctx}, threads {backend.n_threads}: "
          f"prompt {p_rate:.0f} tok/s, generation {g_rate:.1f} tok/s")

    calls: dict[str, list[tuple[int, int, float]]] = defaultdict(list)
    prefix = {"shared": 0, "total": 0}
    last: list[int] = []
    inner = backend._complete

    def timed(prompt):
        nonlocal last
        llama = backend._load()
        tokens = llama.tokenize("\n".join(m["content"] for m in prompt.messages).encode(),
                                add_bos=False)
        shared = 0
        for x, y in zip(tokens, last, strict=False):
            if x != y:
                break
            shared += 1
        prefix["shared"] += shared
        prefix["total"] += len(tokens)
        last = tokens
        t0 = time.perf_counter()
        c = inner(prompt)
        calls[prompt.template_id].append((c.prompt_tokens, c.completion_tokens,
                                          time.perf_counter() - t0))
        return c
    backend._complete = timed

    t0 = time.perf_counter()
    sim.run(ticks=a.ticks)
    wall = time.perf_counter() - t0
    usage = sim.llm.usage
    print(f"\n{len(sim.agents)} residents, {a.ticks} ticks of {sim.world.spec.tick_minutes} min "
          f"from {sim.world.spec.start:%H:%M}: {wall:.0f} s")
    print(f"{'template':>20} {'calls':>6} {'prompt tok':>11} {'answer tok':>11} {'s/call':>7}")
    n = 0
    for template, rows in sorted(calls.items()):
        n += len(rows)
        print(f"{template:>20} {len(rows):>6} {statistics.mean(r[0] for r in rows):>11.0f} "
              f"{statistics.mean(r[1] for r in rows):>11.0f} "
              f"{statistics.mean(r[2] for r in rows):>7.2f}")
    per_hour = 60 / sim.world.spec.tick_minutes
    print(f"calls per tick {n / a.ticks:.1f}; seconds per tick {wall / a.ticks:.0f}; "
          f"a sim-hour at this rate: {wall / a.ticks * per_hour / 60:.0f} min")
    total = usage.total
    fell = getattr(total, "fallbacks", 0)
    print(f"answers by the model: {n - fell} of {n} calls ({fell} by the fallback)")
    if prefix["total"]:
        print(f"prompt tokens that repeat the previous prompt's start: "
              f"{prefix['shared']} of {prefix['total']} "
              f"({100 * prefix['shared'] / prefix['total']:.0f} %)")
    sim.close()


if __name__ == "__main__":
    main()
