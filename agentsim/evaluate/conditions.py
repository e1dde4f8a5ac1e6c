"""The conditions of the paper's ablation (Park et al. 2023 Sec. 6.2) as settings, and the
paper's own figures to set ours beside.

Each condition is the full agent with some of `Settings.observation`, `.reflection` and
`.planning` switched off; every condition of one evaluation runs from the same world, seed,
LLM and starting skills, so they differ in the switch alone. What each switch does in the
tick: `agentsim.cognition.step` (and `cognition.unplanned` for planning)."""

from __future__ import annotations

from dataclasses import dataclass

from agentsim.errors import UserError


@dataclass(frozen=True)
class Condition:
    name: str  # for --conditions and file names
    label: str  # as the paper names it
    observation: bool = True
    reflection: bool = True
    planning: bool = True

    def switches(self) -> dict[str, bool]:
        return {"observation": self.observation, "reflection": self.reflection,
                "planning": self.planning}


CONDITIONS: tuple[Condition, ...] = (
    Condition("full", "full architecture"),
    Condition("no_reflection", "no reflection", reflection=False),
    Condition("no_reflection_planning", "no reflection, no planning",
              reflection=False, planning=False),
    Condition("no_observation_reflection_planning", "no observation, no reflection, "
              "no planning", observation=False, reflection=False, planning=False),
)
BY_NAME = {c.name: c for c in CONDITIONS}

# The paper's TrueSkill means (Sec. 6.5, Fig. 8); the human crowdworker condition has no
# counterpart here (people role-played the residents).
PAPER_TRUESKILL = {"full": 29.89, "no_reflection": 26.88, "no_reflection_planning": 25.64,
                   "no_observation_reflection_planning": 22.95, "human crowdworker": 21.21}
# The paper's end-to-end figures (Sec. 7.1), full architecture, over two game days.
PAPER_DIFFUSION = {"candidacy": (0.04, 0.32), "party": (0.04, 0.52)}
PAPER_DENSITY = (0.167, 0.74)
PAPER_ATTENDANCE = (5, 12)  # of the residents invited, this many came


def pick(names: str | list[str] | tuple[str, ...] | None) -> list[Condition]:
    """Conditions by name ("full,no_reflection" or a list); None: all four, in the paper's
    order. An unknown name is a user error naming the known ones."""
    if names is None:
        return list(CONDITIONS)
    wanted = [n.strip() for n in (names.split(",") if isinstance(names, str) else names)]
    unknown = [n for n in wanted if n and n not in BY_NAME]
    if unknown:
        raise UserError(f"unknown condition {unknown[0]!r} (known: {', '.join(BY_NAME)})",
                        field="--conditions")
    chosen = [BY_NAME[n] for n in dict.fromkeys(wanted) if n]
    if not chosen:
        raise UserError("no condition given", field="--conditions")
    return chosen
