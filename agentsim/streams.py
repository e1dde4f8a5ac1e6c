"""One seed, named random streams: every random draw of a run comes from its seed, through a
stream named for what it is used for, so adding a draw in one place never shifts another.

    stream       what draws from it                        derived as
    ----------   ---------------------------------------   ---------------------------------
    resolution   who talks to whom when several could      random.Random(seed)  (pinned)
                 (`agentsim.resolve`, `Simulation.rng`;
                 checkpointed)
    prompts      the seed in each LLM request (its cache   seed itself          (pinned)
                 and record key, a model's sampling seed)
    jitter       the retry backoff's jitter (timing only;  random.Random(derive(seed, "jitter"))
                 never an event)
    sandbox      a skill's `random` in the sandbox: salts  derive(seed, "sandbox")
                 the child's seed with (skill, args,
                 world snapshot)

`derive(seed, name)` is the first 8 bytes of sha256("agentsim:<seed>:<name>") (not Python's
`hash()`, which changes between processes), so a child stream is the same on every machine
and in every process of a sweep. `resolution` and `prompts` keep the values runs had before
there were named streams: the events of a given seed, and the keys of recorded LLM answers,
stay byte-identical. There are no other random draws in a run: the agents hold no RNG of
their own, and the offline mind's "coins" are hashes of the `prompts` seed and the request.
(`agentsim evaluate` draws its battery's question order and the judge's answer order from
generators of its own, labelled by seed, resident and question: they shape no run.)
"""

from __future__ import annotations

import hashlib
import random
from dataclasses import dataclass


def derive(seed: int, name: str) -> int:
    """A child seed for stream `name`: stable across processes, machines and versions."""
    digest = hashlib.sha256(f"agentsim:{seed}:{name}".encode()).digest()
    return int.from_bytes(digest[:8], "big")


@dataclass(frozen=True)
class Streams:
    """The named streams of one run's seed (see the module's table). Each call of
    `resolution()` or `jitter()` is a fresh generator at the stream's start: the simulation
    holds the one it draws from."""

    seed: int

    def resolution(self) -> random.Random:
        return random.Random(self.seed)

    def jitter(self) -> random.Random:
        return random.Random(derive(self.seed, "jitter"))

    @property
    def prompts(self) -> int:
        return self.seed

    @property
    def sandbox(self) -> int:
        return derive(self.seed, "sandbox")


def streams(seed: int) -> Streams:
    """The named streams of `seed`."""
    return Streams(seed)
