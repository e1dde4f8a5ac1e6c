"""Multi-agent debate (Du et al. 2023): several agents answer a question, read each other's
answers and may revise, round after round; does the group's final answer beat one agent's?

    protocol:
      name: debate
      questions: questions.yaml   the question set, in the world folder (with the answer key)
      rounds: 2                   revision rounds after the first, independent answers
      judge: normalised           exact | normalised | llm (agentsim.protocols.judge)
      debaters: []                names; all the world's agents when empty
      turn_taking: round_robin    the order answers are said in (round_robin | free)
      limit: null                 only the first N questions

Each question is one group conversation (`GroupTalk`) of `rounds + 1` rounds, one round a
tick. In round 0 each debater answers alone; in round r each reads the others' answers of
round r-1 (and its own) and answers again. Every answer is said to the group, so each
debater remembers what it heard. Measures (`Measured` events, `measures.csv`):

    kind=answer  question, round, agent, answer, correct, origin, judged_by
                 every debater's every answer; origin: who gave it (model, repaired,
                 reasked; fallback: the offline mind, because the model could not; offline:
                 the run's mind is the offline mind); judged_by: rule, or the LLM judge's
                 verdict's origin
    kind=round   question, round, majority, correct      the most given answer; in a round
                 with fallback answers also model_answers, majority_model, correct_model: the
                 most given of the model's own answers (empty when it gave none)

and the summary (`summarise`, `measures.json`): who answered (`answered_by`, `model_share`,
`fallback_answers`, `answers_by_origin`), accuracy by round of one agent's answer (the mean
over debaters) and of the majority; `single_agent` is round 0's mean, `debate` the final
round's majority. When some answers were fallbacks the same figures over the model's answers
only follow (`*_model`): a model run's accuracy never counts the offline mind's scripted
answers. The answer key is read by the judge only: no prompt shows it."""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any, ClassVar, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from agentsim.cognition.agent import Agent
from agentsim.cognition.context import Context
from agentsim.cognition.group_talk import GroupTalk
from agentsim.contracts import DEBATE_ANSWER, DebateAnswerVars
from agentsim.contracts.group import SEPARATOR, normalise_answer
from agentsim.protocols.base import Options, Protocol, Stage
from agentsim.protocols.judge import JudgeKind, judge
from agentsim.protocols.measures import accuracy, answer_origins, from_model, truth


class Question(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str = Field(min_length=1)
    question: str = Field(min_length=1)
    answer: str = Field(min_length=1)
    aliases: list[str] = Field(default_factory=list)  # other ways to write the answer


class DebateOptions(Options):
    questions: str = "questions.yaml"
    rounds: int = Field(2, ge=0, le=10)
    judge: JudgeKind = "normalised"
    debaters: list[str] = Field(default_factory=list)
    turn_taking: Literal["round_robin", "free"] = "round_robin"
    limit: int | None = Field(None, ge=1)


def read_questions(path: Path) -> list[Question]:
    """The question set: a YAML list of {id, question, answer, aliases}. ValueError names the
    first problem."""
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as e:
        raise ValueError(f"cannot read {path.name} ({e.strerror})") from None
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        raise ValueError(f"{path.name}: YAML syntax error{where}: "
                         f"{getattr(e, 'problem', None) or 'invalid YAML'}") from None
    if not isinstance(data, list) or not data:
        raise ValueError(f"{path.name} must be a non-empty list of questions")
    out: list[Question] = []
    for i, item in enumerate(data):
        try:
            q = Question.model_validate(item)
        except ValidationError as e:
            err = e.errors()[0]
            raise ValueError(f"{path.name}[{i}].{'.'.join(map(str, err['loc']))}: "
                             f"{err['msg']}") from None
        if any(q.id == o.id for o in out):
            raise ValueError(f"{path.name}[{i}].id: duplicate id {q.id!r}")
        out.append(q)
    return out


class Debate(Protocol):
    name = "debate"
    Options = DebateOptions
    agents_step: ClassVar[bool] = False  # a panel answers questions; it does not plan its day

    def __init__(self, options: DebateOptions, world: Any) -> None:
        super().__init__(options, world)
        questions = read_questions(Path(world.path) / options.questions)
        self.questions = questions[:options.limit] if options.limit else questions
        names = set(options.debaters)
        self.debaters = [aid for aid, p in world.personas.items()
                         if not names or p.name in names]
        self.index = 0  # the question under debate
        self.talk: GroupTalk | None = None
        self.answers: list[dict[str, list[str]]] = []  # by round: agent id -> [answer, why]
        self.origins: list[dict[str, str]] = []  # by round: agent id -> who gave its answer

    @classmethod
    def check(cls, options: DebateOptions, root: Path, names: list[str]) -> list[tuple[str, str]]:
        problems = [("debaters", f"no agent named {n!r} in this world")
                    for n in options.debaters if n not in names]
        debaters = len(options.debaters or names)
        if debaters < 2:
            problems.append(("debaters", f"a debate needs at least 2 debaters (got {debaters})"))
        path = root / options.questions
        if not path.is_file():
            problems.append(("questions", f"no file {options.questions!r} in the world folder"))
        else:
            try:
                read_questions(path)
            except ValueError as e:
                problems.append(("questions", str(e)))
        return problems

    @property
    def finished(self) -> bool:
        return self.index >= len(self.questions)

    async def tick(self, stage: Stage) -> None:
        """One round of the current question: every debater answers, said to the group."""
        q = self.questions[self.index]
        for aid in self.debaters:  # the panel is in session: awake, though it plans no day
            stage.agents[aid].awake = True
        if self.talk is None:
            first = stage.agents[self.debaters[0]]
            self.talk = GroupTalk(topic=q.question, participants=list(self.debaters),
                                  place=first.location, rounds=self.options.rounds + 1,
                                  turn_taking=self.options.turn_taking, seed=stage.seed)
            self.answers, self.origins = [], []
        ctx = stage.context()
        rnd = len(self.answers)
        self.answers.append({})
        self.origins.append({})
        await self.talk.advance(stage.agents, ctx, turns=len(self.debaters),
                                speaker=self._speak)
        refs = [q.answer, *q.aliases]
        given, origins = self.answers[rnd], self.origins[rnd]
        for aid in self.debaters:
            answer = given[aid][0]
            verdict = await judge(self.options.judge, q.question, refs, answer, ctx.llm)
            stage.measure(self.name, kind="answer", question=q.id, round=rnd, agent=aid,
                          answer=answer, correct=verdict.correct,
                          origin=origins.get(aid, "unknown"), judged_by=verdict.by)
        answers = [given[a][0] for a in self.debaters]
        top = majority(answers)
        verdict = await judge(self.options.judge, q.question, refs, top, ctx.llm)
        extra: dict[str, Any] = {}
        if any(origins.get(a) == "fallback" for a in self.debaters):
            # the model's own majority too: judged again only if it is another answer
            mine = [given[a][0] for a in self.debaters if from_model(origins.get(a))]
            top_mine = majority(mine) if mine else None
            right_mine = verdict.correct if top_mine == top else None
            if top_mine is not None and top_mine != top:
                right_mine = (await judge(self.options.judge, q.question, refs, top_mine,
                                          ctx.llm)).correct
            extra = {"model_answers": len(mine), "majority_model": top_mine,
                     "correct_model": right_mine}
        stage.measure(self.name, kind="round", question=q.id, round=rnd, majority=top,
                      correct=verdict.correct, **extra)
        if self.talk.finished:
            self.index += 1
            self.talk = None

    async def _speak(self, agent: Agent, talk: GroupTalk, rnd: int, ctx: Context) -> str:
        last = self.answers[rnd - 1] if rnd > 0 else {}
        mine = last.get(agent.id)
        others = [{"speaker": talk.names[a], "text": SEPARATOR.join(last[a])}
                  for a in self.debaters if a != agent.id and a in last]
        got = await DEBATE_ANSWER.answer(ctx.llm, DebateAnswerVars(
            persona=agent.persona_vars(ctx.world_name), question=talk.topic, round=rnd,
            previous=mine[0] if mine else None, others=others), agent=agent.id)
        out = got.value
        self.origins[rnd][agent.id] = got.origin
        answer = " ".join(out.answer.split())
        self.answers[rnd][agent.id] = [answer, " ".join(out.reasoning.split())]
        return SEPARATOR.join(self.answers[rnd][agent.id])

    def get_state(self) -> dict[str, Any]:
        return {"index": self.index, "answers": [dict(r) for r in self.answers],
                "origins": [dict(r) for r in self.origins],
                "talk": self.talk.get_state() if self.talk else None}

    def set_state(self, state: Any) -> None:
        self.index = state["index"]
        self.answers = [{k: list(v) for k, v in r.items()} for r in state["answers"]]
        # a checkpoint from before origins were kept: its answers' origins are unknown
        self.origins = [dict(r) for r in state.get("origins", [{} for _ in self.answers])]
        self.talk = GroupTalk.from_state(state["talk"]) if state["talk"] else None

    @staticmethod
    def summarise(rows: list[dict[str, Any]]) -> dict[str, Any]:
        """Who answered; accuracy by round, of one agent (mean over debaters) and of the
        majority; and, when some answers were fallbacks, the same over the model's answers
        only (the `*_model` keys)."""
        answers = [r for r in rows if r.get("kind") == "answer"]
        rounds = [r for r in rows if r.get("kind") == "round"]
        who = answer_origins(answers)

        def by_round(rs: list[dict[str, Any]], model_only: bool = False,
                     field: str = "correct") -> dict[int, float]:
            out: dict[int, list[bool]] = {}
            for r in rs:
                # a round row without `correct_model` had no fallback: its majority is the
                # model's; one with it empty had no answer of the model's
                mark = r.get(field, r["correct"])
                if model_only and (mark in (None, "") or (r.get("kind") == "answer"
                                   and not from_model(r.get("origin")))):
                    continue
                out.setdefault(int(r["round"]), []).append(truth(mark))
            return {k: sum(v) / len(v) for k, v in sorted(out.items())}

        single, group = by_round(answers), by_round(rounds)
        last = max(group) if group else None
        out: dict[str, Any] = {"questions": sum(int(r["round"]) == 0 for r in rounds), **who,
                               "one_agent_accuracy_by_round": single,
                               "majority_accuracy_by_round": group,
                               "single_agent": single.get(0),
                               "debate": group[last] if last is not None else None}
        if who["fallback_answers"]:
            mine = by_round(answers, model_only=True)
            group_mine = by_round(rounds, model_only=True, field="correct_model")
            out.update({
                "one_agent_accuracy_model_by_round": mine,
                "majority_accuracy_model_by_round": group_mine,
                "single_agent_model": accuracy(
                    [r for r in answers if int(r["round"]) == 0], model_only=True),
                "debate_model": group_mine.get(last) if last is not None else None})
        return out


def majority(answers: list[str]) -> str:
    """The answer given most (compared normalised); a tie goes to the one given first."""
    votes = Counter(normalise_answer(a) for a in answers)
    best = max(votes.values())
    return next(a for a in answers if votes[normalise_answer(a)] == best)
