"""`agentsim evaluate`: the evaluation of Park et al. 2023 (Sec. 6-7) as a command.

    battery     the five-category interview battery, templated per resident
    conditions  the ablations as settings (full; no reflection; no reflection and no
                planning; no observation, reflection or planning) and the paper's figures
    runner      each condition's run from the same world and seed, its interviews, the
                judge's rankings (`cognition.judge`)
    rating      TrueSkill (openskill's Thurstone-Mosteller model) from the rankings
    measures    the end-to-end measures from `agentsim.metrics`
    report      evaluation.json and evaluation.md beside the paper's figures; plots

On the offline mind every figure is a scripted rule baseline (the reports say so).
"""

from __future__ import annotations

import importlib
from typing import Any

# Public names and their modules, imported on first use: `agentsim.cli` registers the command
# at start-up, which must not pull in pandas, networkx or openskill.
_WHERE = {
    "CATEGORIES": "battery", "QUESTIONS": "battery", "Question": "battery",
    "batteries": "battery", "battery": "battery",
    "CONDITIONS": "conditions", "PAPER_TRUESKILL": "conditions", "Condition": "conditions",
    "pick": "conditions",
    "Rating": "rating", "trueskill": "rating",
    "markdown": "report", "write": "report",
    "Setup": "runner", "evaluate": "runner", "setup_from": "runner",
}
__all__ = sorted(_WHERE)


def __getattr__(name: str) -> Any:
    if name not in _WHERE:
        raise AttributeError(f"module 'agentsim.evaluate' has no attribute {name!r}")
    return getattr(importlib.import_module(f"agentsim.evaluate.{_WHERE[name]}"), name)
