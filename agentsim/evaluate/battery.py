"""The interview battery of Park et al. 2023 (Sec. 6.1 and Appendix B): five questions in each
of five categories, asked of every resident, with "[name]" filled per resident.

The five examples the paper gives in Sec. 6.1 ("Give an introduction of yourself.", "Who is
[name]?", "What will you be doing at 10 am tomorrow?", "Your breakfast is burning! What would
you do?", "If you could spend time with one person you met recently, who would it be and
why?") are its wording; the other twenty follow its Appendix B as closely as we have it (the
hours in the plans questions may differ). Where a question names another resident, each
resident gets people from its own world: first those its persona has a relationship with,
then the others, in an order drawn from the evaluation's seed (the same seed asks the same
questions). The paper asked its "today" and "tomorrow" questions at the end of its two-day
run; here they are asked at the end of the evaluated span, whatever day that is.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from agentsim.world.loader import WorldDef

CATEGORIES = ("self-knowledge", "memory", "plans", "reactions", "reflections")

# (category, text); "{name}", "{name2}", "{name3}" are other residents (the personas carry
# no pronouns, so "they"/"them" stand for the paper's "[he/she]").
QUESTIONS: tuple[tuple[str, str], ...] = (
    ("self-knowledge", "Give an introduction of yourself."),
    ("self-knowledge", "What's your occupation?"),
    ("self-knowledge", "What is your interest?"),
    ("self-knowledge", "Who do you live with?"),
    ("self-knowledge", "Describe your typical weekday schedule in broad strokes."),
    ("memory", "Who is {name}?"),
    ("memory", "Who is running for the election?"),
    ("memory", "Was there a Valentine's day party?"),
    ("memory", "Who is {name2}?"),
    ("memory", "Who is {name3}?"),
    ("plans", "What will you be doing at 6 am today?"),
    ("plans", "What will you be doing at 6 pm today?"),
    ("plans", "What will you be doing at 2 pm today?"),
    ("plans", "What will you be doing at 10 am tomorrow?"),
    ("plans", "What will you be doing at 12 pm tomorrow?"),
    ("reactions", "Your breakfast is burning! What would you do?"),
    ("reactions", "The bathroom is occupied. What would you do?"),
    ("reactions", "You need to cook dinner but your refrigerator is empty. What would you do?"),
    ("reactions", "You see your friend walking by the street. What would you do or say to "
                  "your friend?"),
    ("reactions", "You see fire on the street. What would you do?"),
    ("reflections", "What inspires you in life the most right now, and why?"),
    ("reflections", "If you had to guess given what you know about {name}, what book do you "
                    "think they will like and why?"),
    ("reflections", "If you had to get something {name} likes for their birthday, what would "
                    "you get them?"),
    ("reflections", "What would you say to {name} to compliment them?"),
    ("reflections", "If you could spend time with one person you met recently, who would it "
                    "be and why?"),
)


@dataclass(frozen=True)
class Question:
    """One question put to one resident."""

    id: str  # "memory.2": category and number within it, the same for every resident
    agent: str  # the resident's id
    category: str
    text: str


def others_for(world: WorldDef, agent: str, seed: int, k: int = 3) -> list[str]:
    """`k` other residents' names for `agent`'s questions: people it has a relationship with
    first, then the rest, each group shuffled by the seed (fewer if the town is smaller)."""
    me = world.personas[agent]
    names = sorted(p.name for aid, p in world.personas.items() if aid != agent)
    known = [n for n in sorted({r.name for r in me.relationships}) if n in names]
    rest = [n for n in names if n not in known]
    rng = random.Random(f"battery:{seed}:{agent}")
    rng.shuffle(known)
    rng.shuffle(rest)
    return (known + rest)[:k]


def battery(world: WorldDef, agent: str, seed: int = 0) -> list[Question]:
    """The 25 questions for `agent` (those naming someone are left out in a town of one)."""
    names = others_for(world, agent, seed)
    fill = {"name": names[0] if names else "", "name2": names[1 % len(names)] if names else "",
            "name3": names[2 % len(names)] if names else ""}
    out: list[Question] = []
    counts: dict[str, int] = {}
    for category, text in QUESTIONS:
        counts[category] = counts.get(category, 0) + 1
        if "{" in text and not names:
            continue
        out.append(Question(f"{category}.{counts[category]}", agent, category,
                            text.format(**fill)))
    return out


def batteries(world: WorldDef, agents: list[str] | None = None, seed: int = 0
              ) -> list[Question]:
    """Every resident's battery (or those of `agents`), residents in id order."""
    return [q for a in sorted(agents or world.personas) for q in battery(world, a, seed)]
