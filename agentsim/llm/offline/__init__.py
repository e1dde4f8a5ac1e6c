"""The offline mind: a deterministic, rule-based backend that needs no model at all.

It answers every prompt template from `prompt.template_id` and `prompt.variables` (never from
the rendered text) with a JSON text that validates against that template's output model. The
variables are read into the template's contract (`agentsim.contracts`) first, so each rule gets
the same typed variables cognition asked with (`v.persona`, `v.transcript`, ...), and a request
whose variables do not fit the contract fails here, loudly. One module per cognitive function:

    importance     cue table -> poignancy score
    planning       day_plan, replan: the routine, plus the events the agent decides to attend
    critique       plan_critique, plan_refine: judge a plan against named criteria, fix it
    decompose      hour chunks and 5-15 minute actions, with the objects they use
    react          start a conversation or not
    conversation   converse_turn, conversation_memory
    dialogue       dialogue_critique, dialogue_refine (a turn through self-refine)
    reflection     reflect_questions, reflect_insights
    summary        the summary description, extractive from the memories retrieved
    interview      answers in the first person from the memories retrieved
    knowing        knows_about: yes exactly when a memory given names the topic
    skills         skill_choose, skill_write, skill_fix, skill_verify, curriculum
    judge          judge_rank (agentsim evaluate): by a stated rule, not a judgement
    debate         group_turn, debate_answer, answer_judge (protocols): scripted, stated
    game_master    game_master: a narrator that changes nothing
    classroom      teach_turn: the teacher quotes the lesson's sources
    studio         code_change, code_review, test_report: sketches by seed, a count gate

There is no global randomness: every "coin" is a stable blake2b hash of the run seed and the
identifying parts of the decision (see `coins.coin`), so the same request always gets the
same answer, while different agents answer differently.

This package sits below `agentsim.cognition` and must not import it (the contracts sit below
both): answers are plain dicts.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from typing import Any

from agentsim.contracts import CONTRACTS, Vars
from agentsim.llm.base import Completion, Prompt
from agentsim.llm.offline.classroom import teach_turn
from agentsim.llm.offline.conversation import conversation_memory, converse_turn
from agentsim.llm.offline.critique import plan_critique, plan_refine
from agentsim.llm.offline.debate import answer_judge, debate_answer, group_turn
from agentsim.llm.offline.decompose import decompose
from agentsim.llm.offline.dialogue import dialogue_critique, dialogue_refine
from agentsim.llm.offline.game_master import game_master
from agentsim.llm.offline.importance import importance
from agentsim.llm.offline.interview import interview
from agentsim.llm.offline.judge import judge_rank
from agentsim.llm.offline.knowing import knows_about
from agentsim.llm.offline.planning import day_plan, replan
from agentsim.llm.offline.react import react
from agentsim.llm.offline.reflection import reflect_insights, reflect_questions
from agentsim.llm.offline.skills import (
    curriculum,
    skill_choose,
    skill_fix,
    skill_verify,
    skill_write,
)
from agentsim.llm.offline.studio import code_change, code_review, test_report
from agentsim.llm.offline.summary import summary

# `json.dumps(answer, ensure_ascii=False)`, without building an encoder at every answer
_dumps = json.JSONEncoder(ensure_ascii=False).encode

# A rule: the template's typed variables (its contract's `Vars`) and the run seed -> the answer.
Answerer = Callable[[Any, int], dict]

ANSWERERS: dict[str, Answerer] = {
    "importance": importance,
    "day_plan": day_plan,
    "replan": replan,
    "plan_critique": plan_critique,
    "plan_refine": plan_refine,
    "decompose": decompose,
    "react": react,
    "converse_turn": converse_turn,
    "conversation_memory": conversation_memory,
    "dialogue_critique": dialogue_critique,
    "dialogue_refine": dialogue_refine,
    "reflect_questions": reflect_questions,
    "reflect_insights": reflect_insights,
    "interview": interview,
    "knows_about": knows_about,  # agentsim.metrics: diffusion and density by interview
    "summary": summary,
    "skill_choose": skill_choose,
    "skill_write": skill_write,
    "skill_fix": skill_fix,
    "skill_verify": skill_verify,
    "curriculum": curriculum,
    "judge_rank": judge_rank,  # agentsim.evaluate: a rule baseline, see offline.judge
    # group conversations and protocols (agentsim.protocols): scripted, see offline.debate
    "group_turn": group_turn,
    "debate_answer": debate_answer,
    "answer_judge": answer_judge,
    "teach_turn": teach_turn,  # reads from the lesson's sources (offline.classroom)
    "game_master": game_master,  # narrates only: changes nothing (offline.game_master)
    # the studio's team: sketches by seed, never the tests (offline.studio)
    "code_change": code_change,
    "code_review": code_review,
    "test_report": test_report,
}


class UnknownTemplateError(KeyError):
    """The offline mind has no rules for this template id."""

    def __init__(self, template_id: str) -> None:
        self.template_id = template_id
        super().__init__(template_id)

    def __str__(self) -> str:
        known = ", ".join(sorted(ANSWERERS))
        return (f"the offline mind cannot answer template {self.template_id!r}; "
                f"it knows: {known}")


class OfflineMind:
    """A `Backend` that thinks by rules. `complete` is async only to fit the protocol: it
    never waits (`waits = False`, see `agentsim.llm.wrappers.layer.waits`)."""

    waits = False

    def __init__(self, name: str = "offline", model: str = "offline-mind-1") -> None:
        self.name = name
        self.model = model

    def answer(self, template_id: str, variables: Mapping[str, Any] | Vars,
               seed: int = 0) -> dict:
        """The answer to one template as a plain dict (the JSON object `complete` returns).
        `variables`: the template's `Vars`, or the plain dict a backend receives (validated
        into its contract's model here)."""
        try:
            rule, contract = ANSWERERS[template_id], CONTRACTS[template_id]
        except KeyError:
            raise UnknownTemplateError(template_id) from None
        return rule(contract.validate(variables), seed)

    async def complete(self, prompt: Prompt) -> Completion:
        text = _dumps(self.answer(prompt.template_id, prompt.variables, prompt.seed))
        rendered = sum(len(str(m.get("content", ""))) for m in prompt.messages)
        return Completion(
            text=text,
            prompt_tokens=rendered // 4,
            completion_tokens=len(text) // 4,
            model=self.model,
        )

    async def aclose(self) -> None:
        return None

    def __repr__(self) -> str:
        return f"OfflineMind(name={self.name!r}, model={self.model!r})"


__all__ = ["ANSWERERS", "OfflineMind", "UnknownTemplateError"]
