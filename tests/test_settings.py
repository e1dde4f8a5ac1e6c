"""Settings and RunOptions validated (one-line errors naming the field), Settings accepted by
`Simulation.load` as a Settings or a dict, and the seed's named random streams."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

import agentsim
from agentsim import RunOptions, Settings, Simulation, UserError
from agentsim.streams import derive, streams

TINY = str(Path(__file__).resolve().parent / "fixtures" / "tiny_world")


@pytest.mark.parametrize(("values", "field"), [
    ({"decay": 1.5}, "Settings.decay"),
    ({"decay": 0}, "Settings.decay"),
    ({"weights": (1, 2)}, "Settings.weights"),
    ({"weights": (1, -1, 1)}, "Settings.weights"),
    ({"weights": (1, float("nan"), 1)}, "Settings.weights"),
    ({"max_turns": 0}, "Settings.max_turns"),
    ({"max_turns": 2.5}, "Settings.max_turns"),
    ({"reflection_threshold": "many"}, "Settings.reflection_threshold"),
    ({"skill_memory_mb": 8}, "Settings.skill_memory_mb"),
    ({"colour": 1}, "Settings.colour"),
])
def test_a_bad_setting_is_one_line_naming_the_field(values, field):
    with pytest.raises(UserError) as err:
        Settings(**values)
    assert err.value.field == field
    assert str(err.value).startswith(f"{field}: ") and "\n" not in str(err.value)


def test_settings_are_frozen_and_replace_validates():
    s = Settings()
    with pytest.raises(Exception, match="frozen"):
        s.decay = 0.9  # type: ignore[misc]
    t = s.replace(decay=0.9, weights=[1, 2, 3], observation=0)
    assert (t.decay, t.weights, t.observation) == (0.9, (1.0, 2.0, 3.0), False)
    assert s.decay == 0.995 and t != s and s == Settings()
    with pytest.raises(UserError, match=r"Settings\.decay"):
        s.replace(decay=2)
    assert Settings.of({"max_turns": 2}) == Settings(max_turns=2)
    with pytest.raises(UserError, match="settings must be a Settings or a dict"):
        Settings.of([("max_turns", 2)])  # type: ignore[arg-type]


def test_load_takes_settings_or_a_dict_on_top_of_the_worlds():
    world_default = Simulation.load(TINY, llm="offline", embedder="hash")
    from_dict = Simulation.load(TINY, llm="offline", embedder="hash",
                                settings={"max_turns": 2, "reflection": False})
    given = Settings(max_turns=3)
    as_is = Simulation.load(TINY, llm="offline", embedder="hash", settings=given)
    try:
        base = world_default.settings
        assert from_dict.settings == base.replace(max_turns=2, reflection=False)
        assert from_dict.settings.reflection_threshold == base.reflection_threshold
        assert as_is.settings is given
    finally:
        for sim in (world_default, from_dict, as_is):
            sim.close()
    with pytest.raises(UserError, match=r"Settings\.decay"):
        Simulation.load(TINY, llm="offline", embedder="hash", settings={"decay": -1})


@pytest.mark.parametrize(("values", "field"), [
    ({"hours": -1}, "RunOptions.hours"),
    ({"hours": float("inf")}, "RunOptions.hours"),
    ({"ticks": 0}, "RunOptions.ticks"),
    ({"seed": -3}, "RunOptions.seed"),
    ({"checkpoint_every": 0}, "RunOptions.checkpoint_every"),
    ({"budget_usd": -0.5}, "RunOptions.budget_usd"),
    ({"min_model_share": 1.5}, "RunOptions.min_model_share"),
    ({"fallback": "maybe"}, "RunOptions.fallback"),
    ({"max_in_flight": 0}, "RunOptions.max_in_flight"),
])
def test_bad_run_options_from_python_are_one_line_naming_the_field(values, field):
    with pytest.raises(UserError) as err:
        RunOptions(**values)
    assert err.value.field == field and "\n" not in str(err.value)


def test_load_checks_its_options_before_building_anything():
    with pytest.raises(UserError, match=r"RunOptions\.checkpoint_every"):
        Simulation.load(TINY, llm="offline", embedder="hash", checkpoint_every=0)
    with pytest.raises(UserError, match=r"RunOptions\.colour"):
        Simulation.load(TINY, llm="offline", embedder="hash", colour=1)


def test_streams_are_named_children_of_the_seed():
    # pinned: a child stream is the same in every process and on every machine
    assert derive(0, "sandbox") == int.from_bytes(
        __import__("hashlib").sha256(b"agentsim:0:sandbox").digest()[:8], "big")
    s = streams(7)
    # the streams whose values reach events keep the values runs had before
    assert s.resolution().random() == random.Random(7).random()
    assert s.prompts == 7
    assert s.jitter().random() != random.Random(7).random()
    assert s.sandbox != streams(8).sandbox and s.sandbox == streams(7).sandbox
    assert len({derive(7, n) for n in ("jitter", "sandbox", "x")}) == 3


def test_the_simulation_owns_the_one_rng_and_the_agents_none():
    sim = Simulation.load(TINY, seed=5, llm="offline", embedder="hash")
    try:
        assert sim.rng.random() == random.Random(5).random()
        assert sim._context().sandbox_seed == streams(5).sandbox
        for a in sim.agents.values():
            assert not hasattr(a, "rng")
            assert "rng" not in a.get_state()[0]
    finally:
        sim.close()


def test_the_public_api():
    for name in agentsim.__all__:
        assert getattr(agentsim, name) is not None
    assert (Path(agentsim.__file__).parent / "py.typed").exists()
    with pytest.raises(AttributeError):
        agentsim.Engine  # noqa: B018  (internal: not exported)
