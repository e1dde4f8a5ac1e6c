"""A classroom: a teacher takes students through a lesson plan; a quiz by interview before and
after says what each student learnt.

    protocol:
      name: classroom
      teacher: Rosa Alvarez
      lesson: [why things fall, what keeps the Moon in orbit]   the lesson plan, in order
      quiz: quiz.yaml            questions with the answer key (and known wrong answers)
      turns_per_tick: 5          a topic longer than that goes on over the next ticks

Tick 0 is the quiz before: each student is interviewed with each question
(`cognition.interview`, from its own memories, remembering nothing of being asked). Then each
topic of the plan is one group conversation the teacher moderates (`GroupTalk`, turn_taking
moderator): the teacher speaks from the passages of the world's `knowledge/` found for the
topic (`teach_turn`, RAG), the students with `group_turn`, from what they remember (their
misconceptions are seed memories) and heard; everyone remembers what was said. After the last
topic, the same quiz again. The judge reads the answer key; no prompt shows it:

    correct   the answer names the key's answer (or an alias) as whole words, and names
              none of the question's known wrong answers

Measures: kind=quiz rows (phase before|after, agent, question, correct, answer, origin: who
gave the answer: model, repaired, reasked, or fallback, the offline mind because the model
could not, or offline, the run's mind), and the summary: who answered (`answered_by`,
`model_share`, `fallback_answers`, `answers_by_origin`), the class score before and after,
and each student's; when some answers were fallbacks, the class score over the model's
answers only (`class_score_*_model`) and the fallbacks by student."""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from agentsim.cognition.agent import Agent
from agentsim.cognition.context import Context
from agentsim.cognition.group_talk import GroupTalk, group_turn
from agentsim.cognition.interview import interview
from agentsim.contracts import TEACH_TURN, TeachTurnVars
from agentsim.contracts.knowing import names
from agentsim.protocols.base import Options, Protocol, Stage
from agentsim.protocols.measures import accuracy, answer_origins

PASSAGES = 3  # passages of knowledge/ the teacher is given for a topic


class QuizQuestion(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str = Field(min_length=1)
    question: str = Field(min_length=1)
    answer: str = Field(min_length=1)
    aliases: list[str] = Field(default_factory=list)
    wrong: list[str] = Field(default_factory=list)  # misconceptions' answers


class ClassroomOptions(Options):
    teacher: str = Field(min_length=1)
    lesson: list[str] = Field(min_length=1)
    quiz: str = "quiz.yaml"
    turns_per_tick: int = Field(5, ge=1, le=50)


def read_quiz(path: Path) -> list[QuizQuestion]:
    """The quiz: a YAML list of {id, question, answer, aliases, wrong}; ValueError names the
    first problem."""
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as e:
        raise ValueError(f"cannot read {path.name} ({e.strerror})") from None
    except yaml.YAMLError:
        raise ValueError(f"{path.name}: YAML syntax error") from None
    if not isinstance(data, list) or not data:
        raise ValueError(f"{path.name} must be a non-empty list of questions")
    out: list[QuizQuestion] = []
    for i, item in enumerate(data):
        try:
            out.append(QuizQuestion.model_validate(item))
        except ValidationError as e:
            err = e.errors()[0]
            raise ValueError(f"{path.name}[{i}].{'.'.join(map(str, err['loc']))}: "
                             f"{err['msg']}") from None
    return out


def marked(q: QuizQuestion, answer: str) -> bool:
    """The default judge: names the key's answer (or an alias), and none of the wrong ones."""
    return names(answer, [q.answer, *q.aliases]) and not names(answer, q.wrong)


class Classroom(Protocol):
    name = "classroom"
    Options = ClassroomOptions
    agents_step: ClassVar[bool] = False  # a class in session: no one plans a day

    def __init__(self, options: ClassroomOptions, world: Any) -> None:
        super().__init__(options, world)
        self.quiz = read_quiz(Path(world.path) / options.quiz)
        ids = {p.name: aid for aid, p in world.personas.items()}
        self.teacher = ids[options.teacher]
        self.students = [aid for aid in world.personas if aid != self.teacher]
        self.phase = "before"  # before -> lesson -> after -> done
        self.topic = 0
        self.talk: GroupTalk | None = None

    @classmethod
    def check(cls, options: ClassroomOptions, root: Path,
              names_: list[str]) -> list[tuple[str, str]]:
        problems = []
        if options.teacher not in names_:
            problems.append(("teacher", f"no agent named {options.teacher!r} in this world"))
        elif len(names_) < 3:
            problems.append(("teacher", "a class needs a teacher and at least 2 students"))
        path = root / options.quiz
        if not path.is_file():
            problems.append(("quiz", f"no file {options.quiz!r} in the world folder"))
        else:
            try:
                read_quiz(path)
            except ValueError as e:
                problems.append(("quiz", str(e)))
        return problems

    @property
    def finished(self) -> bool:
        return self.phase == "done"

    async def tick(self, stage: Stage) -> None:
        for aid in stage.agents:  # the class is in session
            stage.agents[aid].awake = True
        if self.phase in ("before", "after"):
            await self._quiz(stage)
            self.phase = "lesson" if self.phase == "before" else "done"
            return
        if self.talk is None:
            self.talk = GroupTalk(topic=self.options.lesson[self.topic],
                                  participants=list(self.students),
                                  place=stage.agents[self.teacher].location,
                                  turn_taking="moderator", moderator=self.teacher,
                                  seed=stage.seed)
        await self.talk.advance(stage.agents, stage.context(),
                                turns=self.options.turns_per_tick, speaker=self._speak)
        if self.talk.finished:
            self.topic += 1
            self.talk = None
            if self.topic >= len(self.options.lesson):
                self.phase = "after"

    async def _quiz(self, stage: Stage) -> None:
        ctx = stage.context()
        for aid in self.students:
            for q in self.quiz:
                out = await interview(stage.agents[aid], q.question, ctx)
                stage.measure(self.name, kind="quiz", phase=self.phase, agent=aid,
                              question=q.id, correct=marked(q, out.answer),
                              answer=" ".join(out.answer.split())[:300], origin=out.origin)

    async def _speak(self, agent: Agent, talk: GroupTalk, rnd: int, ctx: Context) -> str:
        if agent.id != self.teacher:
            return await group_turn(agent, talk, rnd, ctx)
        hits = await ctx.knowledge.asearch(talk.topic, k=PASSAGES) if ctx.knowledge else []
        out = await TEACH_TURN.ask(ctx.llm, TeachTurnVars(
            persona=agent.persona_vars(ctx.world_name), now=f"{ctx.now:%A %H:%M}",
            topic=talk.topic, students=[talk.names[s] for s in self.students],
            heard=talk.heard(), passages=[h.to_vars() for h in hits]), agent=agent.id)
        return out.text

    def get_state(self) -> dict[str, Any]:
        return {"phase": self.phase, "topic": self.topic,
                "talk": self.talk.get_state() if self.talk else None}

    def set_state(self, state: Any) -> None:
        self.phase, self.topic = state["phase"], state["topic"]
        self.talk = GroupTalk.from_state(state["talk"]) if state["talk"] else None

    @staticmethod
    def summarise(rows: list[dict[str, Any]]) -> dict[str, Any]:
        """Who answered; the class's and each student's share of quiz questions right, before
        and after; and, when some answers were fallbacks, the class's over the model's answers
        only and the fallbacks by student."""
        quiz = [r for r in rows if r.get("kind") == "quiz"]
        who = answer_origins(quiz)
        out: dict[str, Any] = dict(who)
        for phase in ("before", "after"):
            mine = [r for r in quiz if r["phase"] == phase]
            out[f"class_score_{phase}"] = accuracy(mine)
            if who["fallback_answers"]:
                out[f"class_score_{phase}_model"] = accuracy(mine, model_only=True)
        for phase in ("before", "after"):
            per: dict[str, list[dict[str, Any]]] = {}
            for r in quiz:
                if r["phase"] == phase:
                    per.setdefault(r["agent"], []).append(r)
            out[f"by_student_{phase}"] = {a: accuracy(rs) for a, rs in sorted(per.items())}
        if who["fallback_answers"]:
            fell: dict[str, int] = {}
            for r in quiz:
                fell[r["agent"]] = fell.get(r["agent"], 0) + (r.get("origin") == "fallback")
            out["fallbacks_by_student"] = dict(sorted(fell.items()))
        return out
