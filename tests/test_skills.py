"""The skill library: seed skills, retrieval, near-duplicates, the shared library across runs,
tasks done with skills in the tick (choose, write, verify, refine), the curriculum, and the
`agentsim skills` command."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from agentsim.cli import main
from agentsim.cognition.agent import Action, Learning
from agentsim.cognition.curriculum import learning_goals, next_lesson
from agentsim.cognition.skill_use import Task, perform, snapshot, use_skills
from agentsim.contracts import (
    CURRICULUM,
    SKILL_CHOOSE,
    SKILL_VERIFY,
    SKILL_WRITE,
    SkillBaseVars,
    SkillWriteVars,
)
from agentsim.errors import UserError
from agentsim.events import Refined, SkillLearned, SkillSkipped, SkillUsed
from agentsim.experiment import Simulation
from agentsim.llm.offline import OfflineMind
from agentsim.llm.offline.skills import curriculum, skill_choose, skill_verify, skill_write
from agentsim.memory.embed import HashEmbedder
from agentsim.skills.library import (
    SharedLibrary,
    Skill,
    SkillLibrary,
    load_seed_skills,
    parse_skills,
)
from agentsim.skills.sandbox import check_code, run_skill
from agentsim.testing import FakeLLM

ROOT = Path(__file__).resolve().parent.parent
SMALLVILLE = ROOT / "worlds" / "smallville"
OFFLINE = OfflineMind()


def _library() -> SkillLibrary:
    emb = HashEmbedder(384)

    async def embed(texts):
        return emb.embed(list(texts))

    lib = SkillLibrary(embed, embedder_name=emb.name)
    lib.extend(load_seed_skills(SMALLVILLE / "skills", SMALLVILLE))
    return lib


# -- seed skills and the library ---------------------------------------------------------------
def test_seed_skills_parse_with_signature_and_pass_the_sandbox_check():
    skills = load_seed_skills(SMALLVILLE / "skills", SMALLVILLE)
    names = {s.name for s in skills}
    assert {"brew_coffee", "bake_in_the_cafe_oven", "tell_the_news"} <= names
    bake = next(s for s in skills if s.name == "bake_in_the_cafe_oven")
    assert bake.signature() == "bake_in_the_cafe_oven(what='bread', minutes=40)"
    assert bake.provenance == "seed:skills/cafe.py" and bake.seed
    assert all(check_code(s.code, s.name) is None for s in skills)


def test_a_bad_seed_skill_is_one_line_naming_file_and_function(tmp_path):
    (tmp_path / "skills").mkdir()
    (tmp_path / "skills" / "bad.py").write_text("def nodoc(world):\n    world.wait(5)\n")
    with pytest.raises(UserError) as e:
        load_seed_skills(tmp_path / "skills", tmp_path)
    assert "skills/bad.py" in str(e.value) and "nodoc" in str(e.value)
    (tmp_path / "skills" / "bad.py").write_text(
        'def sneaky(world):\n    """Looks around."""\n    import os\n')
    with pytest.raises(UserError, match=r"sneaky.*os|os.*sneaky"):
        load_seed_skills(tmp_path / "skills", tmp_path)


def test_retrieval_ranks_by_description_and_is_deterministic():
    lib = _library()
    first = asyncio.run(lib.aretrieve("brew a pot of coffee with the coffee machine", k=5))
    again = asyncio.run(lib.aretrieve("brew a pot of coffee with the coffee machine", k=5))
    assert first[0][0].name == "brew_coffee"
    assert [(s.name, x) for s, x in first] == [(s.name, x) for s, x in again]
    assert len(first) == 5
    assert [x for _, x in first] == sorted((x for _, x in first), reverse=True)


def test_near_duplicates_are_not_kept():
    lib = _library()
    brew = lib["brew_coffee"]
    same_name = Skill("brew_coffee", "something else", "def brew_coffee(world):\n    pass\n")
    same_code = Skill("another_name", "a different description", brew.code)
    same_text = Skill("brew_again", brew.description, "def brew_again(world):\n    pass\n")
    new = Skill("water_plants", "Water the plants in the garden with a watering can.",
                "def water_plants(world):\n    world.wait(5)\n")
    results = [asyncio.run(lib.aadd(s)) for s in (same_name, same_code, same_text, new)]
    assert results[:3] == [None, None, None]
    assert results[3] is new and "water_plants" in lib
    assert asyncio.run(lib.aretrieve("water the plants in the garden", k=1))[0][0] is new


def test_the_descriptions_a_library_will_embed_are_known_before_it_keeps_the_skills():
    """`to_embed`: what `aadd`, skill after skill, embeds (one with a kept name or code, or
    the name or code of one before it, is refused without a vector), and the version, which
    changes only when the skills' code does."""
    lib = _library()
    version = lib.version
    brew = lib["brew_coffee"]
    water = Skill("water_plants", "Water the plants.", "def water_plants(world):\n    pass\n")
    twin = Skill("water_plants", "Water them again.", "def water_plants(world):\n    x = 1\n")
    copy = Skill("brew_twice", "Brew twice.", brew.code)
    dig = Skill("dig", "Dig a hole.", "def dig(world):\n    world.wait(9)\n")
    assert lib.to_embed([water, twin, copy, brew, dig]) == ["Water the plants.", "Dig a hole."]
    lib.record("brew_coffee", ok=True)
    assert lib.version == version  # a use is no change
    asyncio.run(lib.aadd(water))
    assert lib.version != version


def test_library_state_round_trips_and_counts():
    lib = _library()
    asyncio.run(lib.aadd(Skill("water_plants", "Water the plants.", "def water_plants(world):\n"
                                                                    "    world.wait(5)\n",
                               provenance="learned:x:a:t")))
    lib.record("brew_coffee", ok=True)
    lib.record("brew_coffee", ok=False)
    state = json.loads(json.dumps(lib.get_state()))
    twin = _library()
    twin.set_state(state)
    assert "water_plants" in twin
    assert (twin["brew_coffee"].uses, twin["brew_coffee"].successes) == (2, 1)


def test_shared_library_merges_runs_without_losing_or_double_counting(tmp_path):
    shared = SharedLibrary(tmp_path / "lib" / "smallville.jsonl")
    a, b = _library(), _library()
    asyncio.run(a.aadd(Skill("water_plants", "Water the plants.",
                             "def water_plants(world):\n    world.wait(5)\n", provenance="l")))
    asyncio.run(b.aadd(Skill("sweep_floor", "Sweep the floor of the shop.",
                             "def sweep_floor(world):\n    world.wait(9)\n", provenance="l")))
    a.record("water_plants", True)
    b.record("brew_coffee", True)
    assert a.merge_into(shared) == len(a)  # every skill new to an empty library
    b.merge_into(shared)
    b.merge_into(shared)  # a second merge (a resumed run) adds only what is new since
    got = {s.name: s for s in shared.read()}
    assert {"water_plants", "sweep_floor", "brew_coffee"} <= set(got)
    assert (got["water_plants"].uses, got["brew_coffee"].uses) == (1, 1)


def test_parse_skills_reads_defaults_and_types():
    [s] = parse_skills('def f_x(world, n: int = 3, where="park"):\n    """Do f."""\n', "m.py")
    assert s.parameters == [{"name": "n", "type": "int", "default": 3},
                            {"name": "where", "default": "park"}]


# -- the offline mind's answers -----------------------------------------------------------------
TASK = {"text": "bake bread for the morning", "place": "hobbs_cafe_kitchen",
        "place_name": "kitchen", "object": "cafe_oven", "object_name": "oven",
        "state": "baking", "minutes": 40, "source": "plan"}


def test_offline_choose_picks_a_fitting_skill_and_fills_arguments():
    lib = _library()
    cands = [{**s.to_vars(), "score": x}
             for s, x in asyncio.run(lib.aretrieve(TASK["text"], k=5))]
    got = skill_choose(SKILL_CHOOSE.sample(task=TASK, candidates=cands), 0)
    assert got["skill"] == "bake_in_the_cafe_oven"
    assert got["args"] == {"minutes": 40}
    none = skill_choose(SKILL_CHOOSE.sample(task={**TASK, "text": "juggle", "object_name": "ball",
                                                  "state": "up"}, candidates=cands), 0)
    assert none["skill"] is None


def _snap(sim, agent="isabella_rodriguez"):
    return snapshot(sim.agents[agent], sim.world_view(), sim._context())


def test_offline_written_skill_runs_and_is_verified():
    sim = Simulation.load(str(SMALLVILLE), seed=0, embedder="hash")
    objects = [{"id": "cafe_oven", "name": "oven", "place": "hobbs_cafe_kitchen",
                "state": "idle", "states": ["idle", "baking"]}]
    code = skill_write(SKILL_WRITE.sample(task=TASK, objects=objects,
                                          here={"place": "apt_isabella"}), 0)
    assert check_code(code["code"], code["name"]) is None
    run = asyncio.run(run_skill(code["code"], code["name"], code["args"], _snap(sim)))
    assert run.ok, run.error
    assert run.changes["objects"] == {"cafe_oven": ["idle", "baking"]}
    assert run.steps[0]["op"] == "move_to"
    ok = skill_verify(SKILL_VERIFY.sample(task=TASK, changes={"task_object_after": "baking"}), 0)
    bad = skill_verify(SKILL_VERIFY.sample(task=TASK, changes={"task_object_after": "idle"}), 0)
    assert ok["success"] and not bad["success"] and "idle" in bad["critique"]
    sim.close()


def test_offline_curriculum_follows_the_goal_and_progress():
    options = [{"object": "cafe_oven", "object_name": "oven", "place": "hobbs_cafe_kitchen",
                "place_name": "kitchen", "state": "idle", "states": ["idle", "baking"]},
               {"object": "cafe_register", "object_name": "cash register",
                "place": "hobbs_cafe_counter", "place_name": "counter", "state": "idle",
                "states": ["idle", "in use"]}]
    v = {"goals": ["learn to bake bread for the cafe"], "options": options,
         "progress": {"done": [], "failed": []}}
    first = curriculum(CURRICULUM.sample(**v), 0)
    assert (first["object"], first["state"]) == ("cafe_oven", "baking")
    assert "bake bread" in first["task"]
    v["progress"]["done"] = [first["task"]]
    assert curriculum(CURRICULUM.sample(**v), 0)["task"] is None  # nothing else here fits
    v["goals"] = []
    assert curriculum(CURRICULUM.sample(**v), 0)["task"] is None


# -- tasks in the tick, with a fake LLM ------------------------------------------------------
def _sim_with(overrides):
    """Smallville on the offline mind, but some templates answered by `overrides`, a dict
    template id -> fn(variables, n) where n counts the calls of that template so far."""
    seen: dict[str, int] = {}

    def fn(template, variables):
        n = seen[template] = seen.get(template, -1) + 1
        if template in overrides:
            return overrides[template](variables, n)
        return OFFLINE.answer(template, variables, 0)

    return Simulation.load(str(SMALLVILLE), seed=0, embedder="hash", llm=_client(FakeLLM(fn)))


def _client(backend):
    import random

    from agentsim.llm.factory import compose
    from agentsim.llm.prompts import PromptLibrary

    return compose({"smart": backend}, PromptLibrary(), rng=random.Random(0),
                   sleep=lambda s: asyncio.sleep(0))


def _perform(sim, task, agent="isabella_rodriguez"):
    ctx = sim._context()
    a = sim.agents[agent]
    a.location = "hobbs_cafe_counter"
    out = sim._sync(perform(a, task, sim.world_view(), ctx))
    return out, ctx


OVEN = Task("bake bread for the morning", "hobbs_cafe_kitchen", "cafe_oven", "baking", 40)


def test_a_known_skill_is_called_run_and_verified():
    sim = _sim_with({})
    (actions, name), ctx = _perform(sim, OVEN)
    assert name == "bake_in_the_cafe_oven"
    used = [e for e in ctx.events if isinstance(e, SkillUsed)]
    assert [(e.skill, e.ok, e.new) for e in used] == [("bake_in_the_cafe_oven", True, False)]
    assert sim.skills["bake_in_the_cafe_oven"].successes == 0  # counted at tick end
    sim._sync(sim._keep_skills(ctx))
    assert sim.skills["bake_in_the_cafe_oven"].successes == 1
    assert [a.skill for a in actions] == [name] * len(actions)
    assert actions[1].object == "cafe_oven" and actions[1].object_state == "baking"
    tick = sim._context().tick_delta
    assert all((a.end - a.start) % tick == type(tick)(0) for a in actions)
    sim.close()


BAD = {
    "forbidden": "def {n}(world):\n    \"\"\"x\"\"\"\n    import os\n    os.remove('x')\n",
    "file": "def {n}(world):\n    \"\"\"x\"\"\"\n    return open('/etc/passwd').read()\n",
    "timeout": "def {n}(world):\n    \"\"\"x\"\"\"\n    while True:\n        pass\n",
    "memory": "def {n}(world):\n    \"\"\"x\"\"\"\n    return len(bytearray(4 * 1024 ** 3))\n",
}


@pytest.mark.parametrize("kind", sorted(BAD))
def test_bad_skill_code_is_stopped_logged_and_fixed_by_refinement(kind):
    """Round 1 writes bad code: the sandbox stops it and the error is in the log; round 2
    (skill_fix, which sees the error) writes good code, which is verified and kept."""
    def write(v, n):
        return {"name": "bake_loaf", "description": "Bake a loaf in the cafe oven.",
                "code": BAD[kind].format(n="bake_loaf"), "args": {}}

    def fix(v, n):
        assert v["history"][-1]["feedback"]["critique"]  # the error reached the fixer
        base = {k: v[k] for k in SkillBaseVars.model_fields}
        return skill_write(SkillWriteVars(**base, failure=None, examples=[]), 0)

    sim = _sim_with({"skill_choose": lambda v, n: {"skill": None}, "skill_write": write,
                     "skill_fix": fix})
    sim.settings = type(sim.settings)(**{**sim.settings.__dict__, "skill_seconds": 1.0})
    (actions, name), ctx = _perform(sim, OVEN)
    used = [e for e in ctx.events if isinstance(e, SkillUsed)]
    assert [e.ok for e in used] == [False, True]
    expected = {"file": "forbidden"}.get(kind, kind)
    assert used[0].error_kind == expected, used[0].error
    assert used[0].error.startswith("skill bake_loaf")
    [trace] = [e for e in ctx.events if isinstance(e, Refined)]
    assert trace.kind == "skill" and trace.stopped == "satisfied" and len(trace.attempts) == 2
    assert name == "bake_bread_morning" and actions
    assert [s.name for _, s, _ in ctx.learned] == [name]
    sim.close()


def test_a_skill_that_never_works_gives_up_after_the_rounds():
    sim = _sim_with({"skill_choose": lambda v, n: {"skill": None},
                     "skill_write": lambda v, n: {"name": "nope", "description": "d",
                                                  "code": "def nope(world):\n  \"\"\"d\"\"\"\n"
                                                          "  world.move_to('the moon')\n"},
                     "skill_fix": lambda v, n: {"name": "nope", "description": "d",
                                                "code": "def nope(world):\n  \"\"\"d\"\"\"\n"
                                                        f"  world.wait({5 + n})\n"}})
    (actions, name), ctx = _perform(sim, OVEN)
    assert (actions, name) == (None, None)
    used = [e for e in ctx.events if isinstance(e, SkillUsed)]
    assert len(used) == sim.settings.skill_rounds
    assert used[0].error_kind == "action" and "the moon" in used[0].error
    assert all(e.error_kind == "critique" for e in used[1:])  # ran, but the oven is idle
    [trace] = [e for e in ctx.events if isinstance(e, Refined)]
    assert trace.stopped == "max_rounds"
    assert not ctx.learned
    sim.close()


def _never_works(calls):
    """Templates for a skill that never works; `calls` counts the skill prompts asked."""
    def count(fn):
        def answer(v, n):
            calls.append(n)
            return fn(v, n)
        return answer

    return {"skill_choose": count(lambda v, n: {"skill": None}),
            "skill_write": count(lambda v, n: {
                "name": "nope", "description": "d",
                "code": "def nope(world):\n  \"\"\"d\"\"\"\n  world.move_to('the moon')\n"}),
            "skill_fix": count(lambda v, n: {
                "name": "nope", "description": "d",
                "code": f"def nope(world):\n  \"\"\"d\"\"\"\n  world.wait({5 + n})\n"})}


def test_a_task_failed_with_nothing_changed_is_skipped_and_said_so():
    """The same agent, task, surroundings and library as a failed attempt: no prompt, no
    sandbox run, no loop, a `skill_skipped` event; the task is done without a skill."""
    calls: list[int] = []
    sim = _sim_with(_never_works(calls))
    (actions, _), first = _perform(sim, OVEN)
    asked = len(calls)
    assert actions is None and asked == 1 + sim.settings.skill_rounds
    (actions, name), ctx = _perform(sim, OVEN)
    assert (actions, name) == (None, None) and len(calls) == asked
    assert not [e for e in ctx.events if isinstance(e, SkillUsed | Refined)]
    [skipped] = [e for e in ctx.events if isinstance(e, SkillSkipped)]
    assert skipped.agent == "isabella_rodriguez" and skipped.task == OVEN.text
    assert skipped.failed_at == first.now.isoformat() and "same task" in skipped.reason
    # another agent has not failed it: it tries
    _perform(sim, OVEN, agent="klaus_mueller")
    assert len(calls) > asked
    # and the memory of the failure is checkpointed with the agent
    learning = sim.agents["isabella_rodriguez"].learning
    assert Learning.from_dict(learning.to_dict()).failed == learning.failed != {}
    sim.close()


@pytest.mark.parametrize("change", ["library", "object", "task", "place", "person"])
def test_a_failed_task_is_tried_again_once_something_changed(change):
    calls: list[int] = []
    sim = _sim_with(_never_works(calls))
    _perform(sim, OVEN)
    asked = len(calls)
    task = OVEN
    if change == "library":  # a skill learned since may be the one that works
        seed = sim.skills["bake_in_the_cafe_oven"]
        sim.skills.extend([Skill(name="bake_twice", description="Bake twice.",
                                 code=seed.code.replace("bake_in_the_cafe_oven", "bake_twice"),
                                 parameters=seed.parameters)])
    elif change == "object":
        sim.objects["cafe_oven"] = "baking"
    elif change == "task":
        task = Task("bake rolls for the morning", OVEN.place, OVEN.object, OVEN.state, 40)
    elif change == "person":  # someone now at the task's place (whom `say` could reach)
        sim.agents["klaus_mueller"].location = OVEN.place
    (_, _), ctx = _perform(sim, task) if change != "place" else _moved(sim, task)
    assert len(calls) > asked and not [e for e in ctx.events if isinstance(e, SkillSkipped)]
    sim.close()


def test_what_an_attempt_starts_from_is_read_from_the_places_not_the_whole_town():
    """The objects and people an attempt's key and prompts list come from the places' own
    lists and the tick's crowd by place: the same as a scan of every object and person."""
    from agentsim.cognition.skill_use import _objects_vars, _people_at

    sim = _sim_with({})
    sim.objects["cafe_oven"] = "baking"
    sim.agents["klaus_mueller"].location = OVEN.place
    a = sim.agents["isabella_rodriguez"]
    a.location = "hobbs_cafe_seating"
    snap = snapshot(a, sim.world_view(), sim._context())
    task = Task("warm the piano", OVEN.place, "cafe_piano", "being played", 10)
    where = {task.place, a.location}
    scanned = [{"id": i, **{k: o[k] for k in ("name", "place", "state", "states")}}
               for i, o in sorted(snap["objects"].items())
               if o["place"] in where or i == task.object]
    assert _objects_vars(task, a, snap) == scanned and len(scanned) > 2
    assert {"id": "cafe_oven", "state": "baking"}.items() <= scanned[
        [o["id"] for o in scanned].index("cafe_oven")].items()
    people = sorted((p["place"], i) for i, p in snap["people"].items() if p["place"] in where)
    assert _people_at(where, snap) == people and ("hobbs_cafe_kitchen", "klaus_mueller") in people
    plain = dict(snap)  # a snapshot without a crowd: every person is looked at
    assert _people_at(where, plain) == people
    sim.close()


def _moved(sim, task):
    ctx = sim._context()
    a = sim.agents["isabella_rodriguez"]
    a.location = "hobbs_cafe_kitchen"
    return sim._sync(perform(a, task, sim.world_view(), ctx)), ctx


def test_bad_skills_never_stop_the_simulation():
    """Every new skill loops forever: each run is stopped and logged, and the day goes on."""
    sim = _sim_with({
        "skill_choose": lambda v, n: {"skill": None},
        "skill_write": lambda v, n: {"name": "spin", "description": "Spin.",
                                     "code": BAD["timeout"].format(n="spin")},
    })
    sim.settings = type(sim.settings)(**{**sim.settings.__dict__, "skill_seconds": 0.5,
                                         "skill_rounds": 1, "skill_tasks_per_day": 1})
    sim.run(hours=2)
    used = [e for e in sim.events if isinstance(e, SkillUsed)]
    assert used and all(e.error_kind == "timeout" for e in used)
    assert "time limit" in used[0].error
    assert sim.clock.tick == 12
    assert not any(isinstance(e, SkillLearned) for e in sim.events)
    sim.close()


def test_curriculum_proposes_from_goals_and_records_progress():
    sim = Simulation.load(str(SMALLVILLE), seed=0, embedder="hash")
    isabella = sim.agents["isabella_rodriguez"]
    assert learning_goals(isabella) == ["learn to bake bread for the cafe"]
    assert not learning_goals(sim.agents["klaus_mueller"])
    isabella.location = "hobbs_cafe_counter"
    ctx = sim._context()
    task = sim._sync(next_lesson(isabella, sim.world_view(), ctx))
    assert task is not None and task.source == "curriculum"
    assert (task.object, task.state) == ("cafe_oven", "baking")
    # not due again at once
    assert sim._sync(next_lesson(isabella, sim.world_view(), sim._context())) is None
    # once due, the step hook does the lesson with a skill and records the progress
    isabella.learning.last_lesson = ""
    now = ctx.now
    plain = Action("wiping tables", "hobbs_cafe_counter", now, now + ctx.tick_delta)
    got = sim._sync(use_skills(isabella, plain, sim.world_view(), sim._context()))
    assert got.skill is not None
    [lesson] = isabella.learning.progress
    assert lesson["ok"] and lesson["task"] == task.text and lesson["skill"] == got.skill
    sim.close()


# -- a run, and the command -------------------------------------------------------------------
def test_a_run_learns_skills_and_agentsim_skills_lists_them(tmp_path):
    sim = Simulation.load(str(SMALLVILLE), seed=1, embedder="hash", out=str(tmp_path / "runs"))
    sim.run(hours=3)
    used = {e.skill for e in sim.events if isinstance(e, SkillUsed) and e.ok}
    learned = [e for e in sim.events if isinstance(e, SkillLearned)]
    assert len(used) >= 3 and learned
    run = sim.run_dir.path
    table = sim.metrics.skills()
    row = table[table["skill"] == learned[0].skill].iloc[0]
    assert row["learned_by"] == sim.agents[learned[0].agent].name and row["successes"] >= 1
    assert set(table["skill"]) == {e.skill for e in sim.events if isinstance(e, SkillUsed)}
    sim.close()
    name = learned[0].skill
    runner = CliRunner()
    out = runner.invoke(main, ["skills", str(run), "--json"])
    assert out.exit_code == 0, out.output
    listed = {s["name"]: s for s in json.loads(out.output)}
    assert name in listed and listed[name]["successes"] >= 1
    assert listed[name]["provenance"].startswith("learned:")
    # the world's listing includes what its runs learned (the shared library)
    out = runner.invoke(main, ["skills", str(SMALLVILLE), "--runs", str(tmp_path / "runs"),
                               "--json"])
    assert name in {s["name"] for s in json.loads(out.output)}
    shown = runner.invoke(main, ["skills", str(run), "--show", name])
    assert shown.output.startswith(f"def {name}(world")
    missing = runner.invoke(main, ["skills", str(run), "--show", "no_such_skill"])
    assert missing.exit_code == 2 and "no_such_skill" in missing.output
    # the next run of the world starts from its seed skills only, unless asked (issue 14:
    # reproducible by default); asked, it starts with the learned skills, counts at zero
    nxt = Simulation.load(str(SMALLVILLE), seed=2, embedder="hash", out=str(tmp_path / "runs"))
    assert name not in nxt.skills and not nxt.skills.learned()
    nxt.close()
    library = tmp_path / "runs" / "skill_library" / "smallville.jsonl"
    for source in (library, run):
        nxt = Simulation.load(str(SMALLVILLE), seed=2, embedder="hash",
                              out=str(tmp_path / "runs"), skills_from=str(source))
        assert name in nxt.skills and nxt.skills[name].uses == 0
        nxt.close()


def test_a_new_skill_without_a_docstring_is_kept_with_its_description():
    def write(v, n):
        return {"name": "heat_oven", "description": "Heat the cafe oven for baking.",
                "code": "def heat_oven(world):\n    world.move_to('hobbs_cafe_kitchen')\n"
                        "    world.use('cafe_oven', 'baking', minutes=20)\n"}

    sim = _sim_with({"skill_choose": lambda v, n: {"skill": None}, "skill_write": write})
    (_, name), ctx = _perform(sim, OVEN)
    assert name == "heat_oven"
    [(_, skill, rounds)] = ctx.learned
    assert (skill.description, rounds) == ("Heat the cafe oven for baking.", 1)
    assert skill.provenance.startswith("learned:Smallville:isabella_rodriguez:")
    sim._sync(sim._keep_skills(ctx))
    assert "heat_oven" in sim.skills
    sim.close()


def test_what_models_get_wrong_in_skill_answers_is_read_as_meant():
    """Code in a Markdown fence, a name that differs from the function written, arguments as
    a JSON text, "none" for no skill: read as meant, not failed."""
    from agentsim.cognition.schemas import SkillChoice, SkillCode

    code = SkillCode.model_validate({
        "name": "BakeBread", "description": "Bake bread.", "args": '{"n": 3}',
        "code": "Here it is:\n```python\ndef bake_bread(world, n=2):\n    world.wait(5)\n```"})
    assert (code.name, code.args) == ("bake_bread", {"n": 3})
    assert code.code == "def bake_bread(world, n=2):\n    world.wait(5)\n"
    assert check_code(code.code, code.name) is None
    assert SkillChoice.model_validate({"skill": "none", "args": None}).skill is None
    assert SkillChoice.model_validate({"skill": "brew_coffee()"}).skill == "brew_coffee"
    with pytest.raises(ValueError):  # two functions and neither is the name: no guessing
        SkillCode.model_validate({"name": "Bad Name", "description": "d", "code":
                                  "def a(world):\n    pass\ndef b(world):\n    pass\n"})


# -- without the sandbox's wall ---------------------------------------------------------------
def test_without_the_wall_seed_skills_run_and_none_are_written(monkeypatch):
    """Where the wall is unavailable, the world's seed skills still run (Python layers and
    filter), a model is not asked to write code that could not run, unless allowed."""
    from agentsim.skills.wall import Wall

    no_wall = Wall(False, "no wall (test)")
    monkeypatch.setattr("agentsim.skills.sandbox.wall_status", lambda: no_wall)
    monkeypatch.setattr("agentsim.cognition.skill_use.wall_status", lambda: no_wall)
    asked: list[str] = []

    def count(template):
        def answer(v, n):
            asked.append(template)
            return OFFLINE.answer(template, v, n)
        return answer

    sim = _sim_with({"skill_write": count("skill_write")})
    (actions, name), _ctx = _perform(sim, OVEN)
    assert name == "bake_in_the_cafe_oven" and actions  # a seed skill
    kettle = Task("boil water for tea", "hobbs_cafe_kitchen", "cafe_oven", "baking", 10)
    sim.skills.skills.clear()  # no known skill: a new one would be written
    (actions, name), _ctx = _perform(sim, kettle)
    assert (actions, name) == (None, None) and asked == []
    sim.close()

    sim = _sim_with({"skill_write": count("skill_write")})
    sim.settings = sim.settings.replace(allow_unsandboxed_skills=True)
    sim.skills.skills.clear()
    (actions, name), _ctx = _perform(sim, kettle)
    assert asked == ["skill_write"] and name is not None
    sim.close()


def test_world_listing_names_the_shared_library_only_when_it_exists(tmp_path):
    from agentsim.skills.listing import list_skills

    runs = tmp_path / "runs"
    skills, source = list_skills(str(SMALLVILLE), str(runs))
    assert skills and source == str(SMALLVILLE)
    library = runs / "skill_library" / "smallville.jsonl"
    library.parent.mkdir(parents=True)
    library.write_text("", encoding="utf-8")
    assert list_skills(str(SMALLVILLE), str(runs))[1] == f"{SMALLVILLE} (+ {library})"
