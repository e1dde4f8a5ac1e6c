"""A studio: a lead, a developer and a tester write a small Python module together (ChatDev,
MetaGPT); code is their action, and the world's tests say how far they got.

    protocol:
      name: studio
      task: word_count(text) ...  what the module must do (every prompt shows it)
      lead: Grace Okonkwo         the moderator: reviews each change, sets the milestones
      developer: Ravi Mehta       proposes the whole module anew (code_change)
      tester: Ines Duarte         reports the shared module's test run (test_report)
      starter: starter.py         the shared module at the start
      tests: tests.py             the tests (top-level def test_*(); visible to everyone)
      sketches: sketches          a folder of earlier sketches of the module (*.py), or null
      iterations: 6               one iteration a tick
      stop_when_passing: true     the team stops once the shared module passes every test
      seconds: 5.0                the time limit of one test run

The shared artifact is the module's code, held here. Tick 0 first runs the starter's tests.
Each tick is one iteration, a group conversation the lead moderates (`GroupTalk`): the lead
opens with the milestone (`group_turn`); the developer proposes a candidate (`code_change`),
which is run against the tests in the skill sandbox (`studio_run`: never in this process);
the lead reviews it with both runs' results (`code_review`: accept, and the next milestone);
an accepted candidate becomes the shared module; the tester reports the shared module's run
and chooses the failing tests the developer should look at first (`test_report`). Everyone
remembers what was said.

Measures: kind=iteration rows (iteration, passed, total, candidate_passed, accepted, summary,
error, and who gave the candidate, the review and the test report: candidate_origin,
review_origin, report_origin: model, repaired, reasked, fallback (the offline mind, because
the model could not) or offline (the run's mind)) and kind=message rows (agent, role, words);
the summary's share of the tests the shared module passes, and the candidate's, by iteration,
messages and words per role, and who wrote the candidates (`answered_by`, `model_share`,
`fallback_answers`, `answers_by_origin`). When some candidates were fallbacks, the model's
candidates' share by iteration follows (`candidate_model_by_round`) and how many fallback
candidates the lead accepted into the shared module (`accepted_fallbacks`). The passing
count is the sandbox's: no prompt or rule decides it."""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any, ClassVar

from pydantic import Field

from agentsim.cognition.agent import Agent
from agentsim.cognition.context import Context
from agentsim.cognition.group_talk import GroupTalk, group_turn
from agentsim.contracts import (
    CODE_CHANGE,
    CODE_REVIEW,
    TEST_REPORT,
    CodeChangeVars,
    CodeReviewVars,
    TesterReportVars,
)
from agentsim.protocols.base import Options, Protocol, Stage
from agentsim.protocols.measures import answer_origins, from_model
from agentsim.protocols.studio_run import plain_code, refused, run_tests, test_names
from agentsim.skills.sandbox import Limits

FIRST_MILESTONE = "A first version of the module that passes the tests."
ROLES = ("lead", "developer", "tester")


class StudioOptions(Options):
    task: str = Field(min_length=1)
    lead: str = Field(min_length=1)
    developer: str = Field(min_length=1)
    tester: str = Field(min_length=1)
    starter: str = "starter.py"
    tests: str = "tests.py"
    sketches: str | None = "sketches"
    iterations: int = Field(6, ge=1, le=100)
    stop_when_passing: bool = True
    seconds: float = Field(5.0, gt=0, le=60)


def read_sketches(folder: Path) -> list[dict[str, str]]:
    """The sketches: every *.py file of the folder, by name (its stem), in name order."""
    return [{"name": p.stem, "code": p.read_text(encoding="utf-8")}
            for p in sorted(folder.glob("*.py"))]


class Studio(Protocol):
    name = "studio"
    Options = StudioOptions
    agents_step: ClassVar[bool] = False  # a work session: no one plans a day

    def __init__(self, options: StudioOptions, world: Any) -> None:
        super().__init__(options, world)
        root = Path(world.path)
        self.tests = (root / options.tests).read_text(encoding="utf-8")
        self.names = test_names(self.tests)
        self.sketches = read_sketches(root / options.sketches) if options.sketches else []
        ids = {p.name: aid for aid, p in world.personas.items()}
        self.roles = {ids[getattr(options, r)]: r for r in ROLES}
        self.lead, self.developer, self.tester = (ids[getattr(options, r)] for r in ROLES)
        # the progress, plain data (get_state)
        self.artifact = (root / options.starter).read_text(encoding="utf-8")
        self.run: dict[str, Any] | None = None  # the shared module's last test run
        self.iteration = 0
        self.milestone = FIRST_MILESTONE
        self.focus: list[str] = []  # the tests the tester chose last
        self.earlier: list[str] = []  # the developer's summaries
        self.candidate: dict[str, Any] | None = None  # this iteration's: code, summary, run
        self.report_origin: str | None = None  # who gave this iteration's test report

    @classmethod
    def check(cls, options: StudioOptions, root: Path, names: list[str]) -> list[tuple[str, str]]:
        problems = [(r, f"no agent named {getattr(options, r)!r} in this world")
                    for r in ROLES if getattr(options, r) not in names]
        people = [getattr(options, r) for r in ROLES]
        if len(set(people)) < len(people):
            problems.append(("tester", "the lead, the developer and the tester must be three "
                             "different agents"))
        texts: dict[str, str] = {}
        for f in ("starter", "tests"):
            path = root / getattr(options, f)
            if not path.is_file():
                problems.append((f, f"no file {getattr(options, f)!r} in the world folder"))
            else:
                texts[f] = path.read_text(encoding="utf-8")
        if options.sketches is not None and not (root / options.sketches).is_dir():
            problems.append(("sketches", f"no folder {options.sketches!r} in the world folder"))
        if "tests" in texts:
            try:
                tests = test_names(texts["tests"])
            except ValueError as e:
                problems.append(("tests", f"{options.tests}: {e}"))
            else:
                why = refused(texts.get("starter", ""), texts["tests"], tests)
                if why:  # the tests must pass the sandbox's static check (the starter too)
                    problems.append(("tests", f"{options.tests} with {options.starter}: the "
                                     f"sandbox refuses them: {why.split(': ', 1)[-1]}"))
        return problems

    @property
    def finished(self) -> bool:
        done = self.run is not None and self.options.stop_when_passing \
            and self.run["passed"] == self.run["total"]
        return done or self.iteration >= self.options.iterations

    async def tick(self, stage: Stage) -> None:
        """One iteration: milestone, candidate (run in the sandbox), review, test report."""
        for aid in self.roles:  # the team is at work: awake, though it plans no day
            stage.agents[aid].awake = True
        ctx = stage.context()
        if self.run is None:  # the starter's run: where the team begins
            self.run = await self._test(self.artifact, stage, ctx)
            stage.measure(self.name, kind="iteration", iteration=0, passed=self.run["passed"],
                          total=self.run["total"], candidate_passed=None, accepted=None,
                          summary="the starter", error=self.run["error"])
            if self.finished:  # the starter passes every test: nothing to do
                return
        self.iteration += 1
        self.candidate = None
        self.report_origin = None
        topic = f"iteration {self.iteration} ({self.milestone.rstrip('.')})"
        talk = GroupTalk(topic=topic, participants=[self.developer, self.tester],
                         place=stage.agents[self.lead].location, turn_taking="moderator",
                         moderator=self.lead, seed=stage.seed)
        spoken = await talk.advance(stage.agents, ctx, turns=len(talk.order()),
                                    speaker=functools.partial(self._speak, stage))
        c = self.candidate or {}
        stage.measure(self.name, kind="iteration", iteration=self.iteration,
                      passed=self.run["passed"], total=self.run["total"],
                      candidate_passed=c.get("run", {}).get("passed"),
                      accepted=c.get("accepted"), summary=c.get("summary", ""),
                      error=c.get("run", {}).get("error", ""),
                      candidate_origin=c.get("origin"), review_origin=c.get("review_origin"),
                      report_origin=self.report_origin)
        for line in spoken:
            stage.measure(self.name, kind="message", iteration=self.iteration,
                          agent=line["speaker"], role=self.roles[line["speaker"]],
                          words=len(line["text"].split()))

    async def _test(self, code: str, stage: Stage, ctx: Context) -> dict[str, Any]:
        dev = stage.agents[self.developer]
        snapshot = {"agent": dev.id, "name": dev.name, "location": dev.location,
                    "time": stage.now.isoformat()}
        limits = Limits(seconds=self.options.seconds, memory_mb=ctx.settings.skill_memory_mb,
                        seed=ctx.sandbox_seed)
        return await run_tests(code, self.tests, self.names, snapshot, limits,
                               allow_unsandboxed=ctx.settings.allow_unsandboxed_skills)

    async def _speak(self, stage: Stage, agent: Agent, talk: GroupTalk, rnd: int,
                     ctx: Context) -> str:
        persona = agent.persona_vars(ctx.world_name)
        assert self.run is not None
        if agent.id == self.developer:
            focus = [f for f in self.run["failures"] if f["test"] in self.focus]
            got = await CODE_CHANGE.answer(ctx.llm, CodeChangeVars(
                persona=persona, task=self.options.task, artifact=self.artifact,
                milestone=self.milestone, sketches=self.sketches, earlier=self.earlier,
                failures=focus + [f for f in self.run["failures"] if f not in focus]),
                agent=agent.id)
            out = got.value
            summary = " ".join(out.summary.split())
            self.earlier.append(summary)
            code = plain_code(out.code)
            run = await self._test(code, stage, ctx)
            self.candidate = {"code": code, "summary": summary, "run": run,
                              "origin": got.origin}
            return summary
        if agent.id == self.tester:
            report = await TEST_REPORT.answer(ctx.llm, TesterReportVars(
                persona=persona, task=self.options.task, tests=self.names, run=self.run),
                agent=agent.id)
            out, self.report_origin = report.value, report.origin
            self.focus = [t for t in out.focus if t in self.names]
            return out.text
        if self.candidate is None or "accepted" in self.candidate:  # the lead opens
            return await group_turn(agent, talk, rnd, ctx)
        c = self.candidate
        review = await CODE_REVIEW.answer(ctx.llm, CodeReviewVars(
            persona=persona, task=self.options.task, milestone=self.milestone,
            summary=c["summary"], candidate=c["run"], artifact=self.run), agent=agent.id)
        out = review.value
        c["accepted"], c["review_origin"] = bool(out.accept), review.origin
        if out.accept:
            self.artifact, self.run = c["code"], c["run"]
        self.milestone = " ".join(out.milestone.split())
        return out.text

    def get_state(self) -> dict[str, Any]:
        return {"artifact": self.artifact, "run": self.run, "iteration": self.iteration,
                "milestone": self.milestone, "focus": list(self.focus),
                "earlier": list(self.earlier)}

    def set_state(self, state: Any) -> None:
        self.artifact, self.run = state["artifact"], state["run"]
        self.iteration, self.milestone = state["iteration"], state["milestone"]
        self.focus, self.earlier = list(state["focus"]), list(state["earlier"])

    @staticmethod
    def summarise(rows: list[dict[str, Any]]) -> dict[str, Any]:
        """The share of the tests passed by iteration (the shared module's, the candidate's),
        and the messages and words per role."""
        its = [r for r in rows if r.get("kind") == "iteration"]
        shared = {int(r["iteration"]): int(r["passed"]) / int(r["total"]) for r in its}
        cand = {int(r["iteration"]): int(r["candidate_passed"]) / int(r["total"])
                for r in its if r.get("candidate_passed") not in (None, "")}
        messages: dict[str, int] = {}
        words: dict[str, int] = {}
        for r in rows:
            if r.get("kind") == "message":
                messages[r["role"]] = messages.get(r["role"], 0) + 1
                words[r["role"]] = words.get(r["role"], 0) + int(r["words"])
        last = max(its, key=lambda r: int(r["iteration"])) if its else None
        made = [r for r in its if r.get("candidate_origin") not in (None, "")]
        who = answer_origins(made, field="candidate_origin")
        out: dict[str, Any] = {"tests": int(last["total"]) if last else None,
                "passed_at_start": int(its[0]["passed"]) if its else None,
                "passed_at_end": int(last["passed"]) if last else None,
                "iterations": int(last["iteration"]) if last else 0,
                "accepted": sum(str(r.get("accepted")) == "True" for r in its),
                "shared_module_by_round": shared, "candidate_by_round": cand,
                "messages_by_role": {k: messages[k] for k in ROLES if k in messages},
                "words_by_role": {k: words[k] for k in ROLES if k in words}, **who}
        if who["fallback_answers"]:
            out["candidate_model_by_round"] = {
                k: v for k, v in cand.items() if any(
                    int(r["iteration"]) == k and from_model(r["candidate_origin"]) for r in made)}
            out["accepted_fallbacks"] = sum(str(r.get("accepted")) == "True" and
                                            r["candidate_origin"] == "fallback" for r in made)
        return out
