"""How do the retrieval weights change life in Smallville? Three weightings of the paper's
score (recency, importance, relevance) × three seeds, in parallel; a table and a plot of how
far the Valentine's Day party invitation spread, how much people talked and reflected.

    python examples/sweep_retrieval_weights.py [--hours 12] [--seeds 0,1,2] [--workers 2]
                                               [--embedder hash|minilm] [--ray]
                                               [--out runs/example-sweep]

The hash embedder is the default here: nine runs of twelve hours take about a minute on two
cores with it, while MiniLM would load a model in every worker process. Pass
`--embedder minilm` for the real embeddings. `--ray` runs the same sweep on a local Ray.

The sweep runs on the offline mind, a scripted rule baseline: how far the party's news spreads
and how much people talk are decided by its rules (docs/offline-mind.md), which read few of the
retrieved memories, so the weights may change little or nothing here. The example shows how to
sweep; the numbers are no finding about how retrieval weights shape generative agents.
"""

from __future__ import annotations

import argparse

from agentsim import sweep

WEIGHTS = {
    "paper (1:1:1)": (1.0, 1.0, 1.0),
    "recency-heavy (3:1:1)": (3.0, 1.0, 1.0),
    "relevance-heavy (1:1:3)": (1.0, 1.0, 3.0),
}


def measure(sim) -> dict[str, float]:
    """Module level, so worker processes can import it."""
    n = len(sim.agents)
    heard = {e.agent for e in sim.events
             if e.type == "learned" and e.title == "Valentine's Day party"}
    hosts = {aid for aid, a in sim.agents.items() if a.name == "Isabella Rodriguez"}
    return {
        "share who heard of the party": len(heard | hosts) / n,
        "conversations per resident": 2 * sum(e.type == "conversation" for e in sim.events) / n,
        "reflections per resident": sum(e.type == "reflected" for e in sim.events) / n,
    }


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--hours", type=float, default=12)
    ap.add_argument("--seeds", default="0,1,2")
    ap.add_argument("--workers", type=int, default=None)
    ap.add_argument("--embedder", default="hash")
    ap.add_argument("--ray", action="store_true")
    ap.add_argument("--out", default="runs/example-sweep")
    args = ap.parse_args()

    if args.ray:
        import ray

        ray.init(include_dashboard=False, log_to_driver=False)
    result = sweep("worlds/smallville", grid={"weights": list(WEIGHTS.values())},
                   seeds=[int(s) for s in args.seeds.split(",")], hours=args.hours,
                   measure=measure, workers=args.workers, embedder=args.embedder, out=args.out)
    names = {v: k for k, v in WEIGHTS.items()}
    print("On the offline mind these figures are a scripted rule baseline "
          "(docs/offline-mind.md), not a finding about the residents.")
    print(f"{len(result.runs)} runs of {args.hours:g} h on {result.backend}\n")
    print(f"{'weights':<26}{'measure':<32}{'mean':>7}  95 % CI")
    for _, r in result.summary.iterrows():
        ci = "" if r["ci95"] != r["ci95"] else f"± {r['ci95']:.3f}"
        print(f"{names[tuple(r['weights'])]:<26}{r['measure']:<32}{r['mean']:>7.3f}  {ci}")
    for m in ("share who heard of the party", "reflections per resident"):
        print(f"plot: {result.plot(m)}")
    print(f"tables: {result.out / 'summary.csv'}, {result.out / 'runs.csv'}")


if __name__ == "__main__":
    main()
