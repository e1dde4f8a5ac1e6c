"""Protocols from the world folder: the `protocol:` section is checked like every other field,
a plug-in installed as a package (an entry point in `agentsim.protocols`) is found and runs,
and group conversations take turns by the world's rule and are remembered."""

from __future__ import annotations

import asyncio
import importlib
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import yaml

from agentsim.cognition.group_talk import GroupTalk
from agentsim.errors import UserError
from agentsim.events import Conversation, Measured
from agentsim.experiment import Simulation
from agentsim.memory.record import MemoryKind
from agentsim.world.loader import load_world
from agentsim.world.protocol_section import BUILT_IN, registered

ROOT = Path(__file__).resolve().parents[1]
DEBATE = ROOT / "worlds" / "debate"


def world_with(tmp_path: Path, protocol: dict | None) -> Path:
    """A copy of worlds/debate whose world.yaml declares `protocol` (None: no section)."""
    folder = tmp_path / "w"
    shutil.copytree(DEBATE, folder)
    spec = yaml.safe_load((folder / "world.yaml").read_text())
    spec.pop("protocol")
    if protocol is not None:
        spec["protocol"] = protocol
    (folder / "world.yaml").write_text(yaml.safe_dump(spec, sort_keys=False))
    return folder


# -- validation --------------------------------------------------------------------------------


@pytest.mark.parametrize(("protocol", "field", "message"), [
    ({"name": "debat"}, "protocol.name", "no protocol 'debat' (known: classroom, debate"),
    ({"name": "debate", "rounds": -1}, "protocol.rounds", "greater than or equal to 0"),
    ({"name": "debate", "roundz": 2}, "protocol.roundz", "unknown field"),
    ({"name": "debate", "judge": "vibes"}, "protocol.judge", "'exact', 'normalised' or 'llm'"),
    ({"name": "debate", "questions": "nope.yaml"}, "protocol.questions",
     "no file 'nope.yaml' in the world folder"),
    ({"name": "debate", "debaters": ["Ada Okafor", "Zed"]}, "protocol.debaters",
     "no agent named 'Zed'"),
    ({"name": "debate", "debaters": ["Ada Okafor"]}, "protocol.debaters", "at least 2"),
    ({"name": "meeting", "topic": "x", "turn_taking": "moderator"}, "protocol.moderator",
     "needs a moderator"),
    ({"name": "meeting", "topic": "x", "turn_taking": "shouting"}, "protocol.turn_taking",
     "'round_robin', 'moderator' or 'free'"),
    ({"rounds": 2}, "protocol.name", "required field is missing"),
])
def test_a_bad_protocol_section_is_one_line_naming_the_file_and_field(tmp_path, protocol,
                                                                      field, message):
    folder = world_with(tmp_path, protocol)
    with pytest.raises(UserError) as err:
        load_world(folder)
    line = str(err.value)
    assert "\n" not in line
    assert line.startswith(f"{folder / 'world.yaml'}: {field}: "), line
    assert message in line


def test_a_bad_question_set_names_the_question_and_its_field(tmp_path):
    folder = world_with(tmp_path, {"name": "debate"})
    (folder / "questions.yaml").write_text("- {id: a, question: 'What is 1 + 1?'}\n")
    with pytest.raises(UserError, match=r"protocol.questions: questions.yaml\[0\].answer"):
        load_world(folder)
    (folder / "questions.yaml").write_text("- {id: a, question: What is 1 + 1?}\n")
    with pytest.raises(UserError, match=r"protocol.questions: questions.yaml: YAML syntax "
                                        r"error at line 1, column 34"):
        load_world(folder)


def test_validate_exits_2_with_the_one_line(tmp_path):
    folder = world_with(tmp_path, {"name": "debate", "rounds": "many"})
    run = subprocess.run([sys.executable, "-m", "agentsim", "validate", str(folder)],
                         capture_output=True, text=True, cwd=ROOT,
                         env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"})
    assert run.returncode == 2
    assert "world.yaml: protocol.rounds: " in run.stderr
    assert len(run.stderr.strip().splitlines()) == 1


def test_the_built_in_protocols_are_registered_in_pyproject_too():
    import tomllib

    declared = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"][
        "entry-points"]["agentsim.protocols"]
    assert declared == BUILT_IN


# -- a plug-in from its own package ------------------------------------------------------------

PLUGIN = '''
"""A user's protocol: everyone relays a message round the table, two turns a tick."""
from agentsim.cognition.group_talk import GroupTalk
from agentsim.protocols import Options, Protocol


class RelayOptions(Options):
    topic: str
    turns_per_tick: int = 2


class Relay(Protocol):
    name = "relay"
    Options = RelayOptions
    agents_step = False

    def __init__(self, options, world):
        super().__init__(options, world)
        self.talk = None

    @property
    def finished(self):
        return self.talk is not None and self.talk.finished

    async def tick(self, stage):
        if self.talk is None:
            ids = list(stage.agents)
            self.talk = GroupTalk(topic=self.options.topic, participants=ids,
                                  place=stage.agents[ids[0]].location, rounds=2)
        spoken = await self.talk.advance(stage.agents, stage.context(),
                                         turns=self.options.turns_per_tick)
        stage.measure(self.name, said=len(spoken))
'''


@pytest.fixture
def relay_installed(tmp_path, monkeypatch):
    """The plug-in as an installed distribution (a dist-info with its entry_points.txt) in a
    folder on sys.path: what `pip install --target` leaves."""
    site = tmp_path / "site"
    (site / "relay_plugin").mkdir(parents=True)
    (site / "relay_plugin" / "__init__.py").write_text(textwrap.dedent(PLUGIN))
    info = site / "relay_plugin-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: relay-plugin\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text(
        "[agentsim.protocols]\nrelay = relay_plugin:Relay\n")
    monkeypatch.syspath_prepend(str(site))
    importlib.invalidate_caches()
    yield
    sys.modules.pop("relay_plugin", None)


def test_a_plug_in_from_an_installed_package_is_discovered_and_runs(tmp_path, relay_installed):
    assert registered()["relay"] == "relay_plugin:Relay"
    folder = world_with(tmp_path, {"name": "relay", "topic": "the club's trip"})
    assert load_world(folder).protocol.topic == "the club's trip"
    sim = Simulation.load(str(folder), seed=1, embedder="hash")
    sim.run(ticks=5)
    said = [e.values["said"] for e in sim.events if isinstance(e, Measured)]
    assert said == [2, 2, 2, 2]  # 4 people x 2 rounds, 2 turns a tick; then it is finished
    talks = [e for e in sim.events if isinstance(e, Conversation)]
    assert len(talks) == 4 and all(len(t.participants) == 4 for t in talks)
    # the agents did not live their day: the protocol said they do not
    assert not any(e.type in ("plan_made", "moved") for e in sim.events)
    heard = [r.text for r in sim.agents["ada_okafor"].memory.records({MemoryKind.observation})]
    assert any(t.startswith('Ben Larsen said to the group: "') for t in heard)
    assert any(t.startswith('I said to the group: "') for t in heard)
    with pytest.raises(UserError, match=r"protocol\.turns_per_tick"):
        load_world(world_with(tmp_path / "bad", {"name": "relay", "topic": "x",
                                                  "turns_per_tick": "two"}))


# -- group conversations -----------------------------------------------------------------------


def test_turn_taking_rules():
    people = ["a", "b", "c"]
    rr = GroupTalk(topic="t", participants=people, place="p", rounds=2)
    assert rr.order() == [("a", 0), ("b", 0), ("c", 0), ("a", 1), ("b", 1), ("c", 1)]
    mod = GroupTalk(topic="t", participants=people, place="p", turn_taking="moderator",
                    moderator="m")
    assert [s for s, _ in mod.order()] == ["m", "a", "m", "b", "m", "c"]
    assert mod.members == ["m", "a", "b", "c"]
    free = [GroupTalk(topic="t", participants=people, place="p", rounds=3,
                      turn_taking="free", seed=s).order() for s in (1, 1, 2)]
    assert free[0] == free[1]  # the seed's own stream: the same order every time
    assert any(GroupTalk(topic="t", participants=people, place="p", rounds=3,
                         turn_taking="free", seed=s).order() != rr.order() for s in range(5))
    for order in free:  # everyone once a round, whatever the order
        for r in range(3):
            assert sorted(s for s, rnd in order if rnd == r) == people
    with pytest.raises(ValueError, match="needs a moderator"):
        GroupTalk(topic="t", participants=people, place="p", turn_taking="moderator")
    with pytest.raises(ValueError, match="at least two"):
        GroupTalk(topic="t", participants=["a"], place="p")


def test_a_group_talk_spans_ticks_and_survives_a_checkpoint():
    sim = Simulation.load(str(DEBATE), seed=0, embedder="hash")
    talk = GroupTalk(topic="the club's trip", participants=["ada_okafor", "ben_larsen",
                                                            "chen_wei"],
                     place="debate_room", turn_taking="moderator", moderator="dora_mendes")
    ctx = sim._context()
    first = asyncio.run(talk.advance(sim.agents, ctx, turns=4))
    assert [s["speaker"] for s in first] == ["dora_mendes", "ada_okafor", "dora_mendes",
                                             "ben_larsen"]
    assert not talk.finished
    again = GroupTalk.from_state(talk.get_state())
    rest = asyncio.run(again.advance(sim.agents, ctx, turns=4))
    assert [s["speaker"] for s in rest] == ["dora_mendes", "chen_wei"] and again.finished
    # the offline mind's moderator opens and gives the floor; what was said is remembered
    assert first[0]["text"].startswith("Welcome, everyone.")
    assert first[2]["text"] == "Thank you, Ada. Who is next?"
    chen = [r.text for r in sim.agents["chen_wei"].memory.records()]
    assert f'Dora Mendes said to the group: "{first[0]["text"]}"' in chen
    assert [type(e).__name__ for e in ctx.events] == ["Conversation", "Conversation"]


def test_a_meeting_protocol_runs_alongside_the_day(tmp_path):
    folder = world_with(tmp_path, {"name": "meeting", "topic": "the spring quiz",
                                   "turn_taking": "moderator", "moderator": "Chen Wei",
                                   "turns_per_tick": 3})
    sim = Simulation.load(str(folder), seed=0, embedder="hash")
    sim.run(ticks=3)
    rows = [e.values for e in sim.events if isinstance(e, Measured)]
    assert [r["agent"] for r in rows] == ["chen_wei", "ada_okafor", "chen_wei", "ben_larsen",
                                          "chen_wei", "dora_mendes"]
    assert sim.protocol.finished
    assert any(e.type == "plan_made" for e in sim.events)  # the agents lived their day too
