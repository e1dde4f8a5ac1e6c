"""One turn of a conversation, through the self-refine loop when `Settings.refine_dialogue`
allows (0, the default, asks once): the turn is checked (not empty, not too long, not a
repeat of what was said, drawing only on memories and passages it was given) and critiqued
against named criteria (`dialogue_critique`); while either finds fault, the speaker says it
again with the history of drafts and their feedback (`dialogue_refine`). Each loop is a
`refined` event of kind "dialogue".
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from agentsim.cognition.agent import Agent
from agentsim.cognition.context import Context
from agentsim.cognition.refine import Attempt, Feedback, refine, trace_fields
from agentsim.contracts import (
    CONVERSE_TURN,
    DIALOGUE_CRITIQUE,
    DIALOGUE_REFINE,
    ConverseTurnVars,
    DialogueCritiqueVars,
    DialogueRefineVars,
)
from agentsim.contracts.outputs import Turn
from agentsim.events import Refined

CRITERIA = {
    "responsive": "Does it answer, or follow from, what was just said?",
    "in character": "Would this person say it, this way, to this listener?",
    "moves on": "Does it add something, rather than say again what was said?",
}
MAX_WORDS = 80
REPEAT = 0.8  # share of words in common at which a line repeats an earlier one
_WORD = re.compile(r"[a-z']+")


def _words(text: str) -> set[str]:
    return set(_WORD.findall(text.lower()))


def repeats(text: str, earlier: str) -> bool:
    a, b = _words(text), _words(earlier)
    return bool(a) and bool(b) and len(a & b) / min(len(a), len(b)) >= REPEAT


def turn_problems(out: Turn, variables: ConverseTurnVars) -> list[str]:
    """What is wrong with a turn on its face, each a short sentence; [] if nothing."""
    text = out.utterance.strip()
    problems = []
    if not text:
        problems.append("the turn says nothing")
    elif len(text.split()) > MAX_WORDS:
        problems.append(f"it is too long for one turn (over {MAX_WORDS} words)")
    if text and any(repeats(text, t["text"]) for t in variables.transcript):
        problems.append("it repeats something already said in this conversation")
    given = {m["id"] for m in variables.memories}
    if out.shares_memory_id is not None and out.shares_memory_id not in given:
        problems.append(f"memory {out.shares_memory_id} is not one of the memories given")
    fact = variables.fact
    if out.cites is not None and (fact is None or out.cites != fact["id"]):
        problems.append(f"{out.cites} is not the passage given")
    return problems


async def speak(speaker: Agent, variables: ConverseTurnVars, ctx: Context, *,
                draft: Turn | None = None) -> Turn:
    """The speaker's next turn (`converse_turn` with `variables`), refined when asked for.
    A `draft` (a conversation's first line, said by the reaction that started it) is the
    turn, or with refinement the first output judged; then it is not asked for."""
    async def generate() -> Turn:
        if draft is not None:
            return draft
        return await CONVERSE_TURN.ask(ctx.llm, variables, agent=speaker.id)

    rounds = ctx.settings.refine_dialogue
    if rounds < 1:
        return await generate()

    async def feedback(out: Turn) -> Feedback:
        problems = turn_problems(out, variables)
        critic = await DIALOGUE_CRITIQUE.ask(ctx.llm, DialogueCritiqueVars(
            persona=variables.persona, other=variables.other,
            transcript=variables.transcript, utterance=out.utterance,
            problems=problems,
            criteria=[{"name": k, "question": q} for k, q in CRITERIA.items()],
        ), agent=speaker.id)
        notes = [*problems, *([critic.critique] if not critic.satisfied and critic.critique
                              else [])]
        return Feedback(score=critic.score * (0.5 if problems else 1.0),
                        satisfied=critic.satisfied and not problems,
                        critique="; ".join(notes),
                        issues=tuple(dict.fromkeys(["checks"] * bool(problems)
                                                   + list(critic.failed))))

    async def improve(out: Turn, history: Sequence[Attempt[Turn]]) -> Turn:
        return await DIALOGUE_REFINE.ask(ctx.llm, DialogueRefineVars(
            **variables.dump(), history=[
                {"turn": a.output.model_dump(), "feedback": a.feedback.to_dict()}
                for a in history]), agent=speaker.id)

    trace = await refine(generate, feedback, improve, kind="dialogue", max_rounds=rounds)
    ctx.emit(Refined, agent=speaker.id,
             **trace_fields(trace, CONVERSE_TURN.id, variables.dump()))
    return trace.final
