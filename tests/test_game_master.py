"""The game master option: actions the world's rules cannot decide are put to an LLM; its
decisions are logged as events, applied only when the world allows them, remembered by those
present, and the same seed gives the same log."""

from __future__ import annotations

import shutil
from pathlib import Path

import yaml

from agentsim.events import GameMasterDecided, ObjectChanged
from agentsim.experiment import Simulation
from agentsim.llm.factory import build_llm
from agentsim.llm.offline import OfflineMind
from agentsim.memory.record import MemoryKind

DEBATE = Path(__file__).resolve().parents[1] / "worlds" / "debate"


def world(tmp_path: Path, **options) -> Path:
    folder = tmp_path / "w"
    shutil.copytree(DEBATE, folder)
    spec = yaml.safe_load((folder / "world.yaml").read_text())
    spec["protocol"] = {"name": "game_master", **options}
    (folder / "world.yaml").write_text(yaml.safe_dump(spec, sort_keys=False))
    return folder


class Master:
    """The offline mind, except for the game master, which answers from a script: first the
    whiteboard goes into use, then it asks for a state the whiteboard does not have."""

    def __init__(self, answers):
        self.mind = OfflineMind()
        self.edges = build_llm("offline")
        self.answers = list(answers)
        self.asked: list[dict] = []

    def __getattr__(self, name):
        return getattr(self.edges, name)

    async def ask(self, template_id, variables, *, schema=None, tier="smart", agent=None):
        if template_id == "game_master":
            self.asked.append(variables)
            data = self.answers.pop(0) if self.answers else {"outcome": "Nothing happens."}
        else:
            data = self.mind.answer(template_id, variables, 0)
        return schema.model_validate(data) if schema else data


def test_the_game_master_decides_what_the_rules_cannot(tmp_path):
    llm = Master([{"outcome": "The whiteboard fills with sums.", "object": "whiteboard",
                   "state": "in use"},
                  {"outcome": "The whiteboard catches fire.", "object": "whiteboard",
                   "state": "burning"},
                  {"outcome": "The piano plays.", "object": "cafe_piano", "state": "on"}])
    sim = Simulation.load(str(world(tmp_path, max_per_tick=1)), seed=0, embedder="hash",
                          llm=llm)
    sim.run(ticks=4)
    decided = [e for e in sim.events if isinstance(e, GameMasterDecided)]
    assert len(decided) == 4  # one a tick: every tick someone started an undecided action
    first, bad, absent = decided[:3]
    assert first.applied and first.why_not is None
    assert sim.objects["whiteboard"] == "in use"
    changed = [e for e in sim.events if isinstance(e, ObjectChanged)]
    assert [(c.object, c.old, c.new, c.agent) for c in changed] == [
        ("whiteboard", "idle", "in use", first.agent)]
    assert not bad.applied and bad.why_not == "'burning' is not a state of whiteboard"
    assert not absent.applied and absent.why_not == "no object 'cafe_piano' at debate_room"
    # the game master saw the room's objects as they were, and its own recent outcomes
    assert llm.asked[0]["objects"] == [{"id": "whiteboard", "name": "whiteboard",
                                        "state": "idle", "states": ["idle", "in use"]}]
    assert llm.asked[1]["objects"][0]["state"] == "in use"
    assert llm.asked[1]["recent"] == ["The whiteboard fills with sums."]
    # everyone in the room remembers what the game master said happened
    for a in sim.agents.values():
        seen = [r for r in a.memory.records({MemoryKind.observation})
                if r.source == "game master"]
        assert [r.text for r in seen][:2] == ["The whiteboard fills with sums.",
                                              "The whiteboard catches fire."]
    # its memory of outcomes is in the checkpointed state
    state, _ = sim.get_state()
    assert state["protocol"]["recent"]["society"][:2] == ["The whiteboard fills with sums.",
                                                          "The whiteboard catches fire."]


def test_on_the_offline_mind_the_game_master_only_narrates_and_replays(tmp_path):
    folder = world(tmp_path)
    runs = []
    for name in ("a", "b"):
        sim = Simulation.load(str(folder), seed=3, embedder="hash", out=str(tmp_path / name))
        sim.run(ticks=3)
        sim.close()
        runs.append(sim.run_dir.events_path.read_text())
    assert runs[0] == runs[1]  # same seed, same decisions, byte for byte
    decided = [e for e in sim.events if isinstance(e, GameMasterDecided)]
    assert len(decided) == 3 * 2  # max_per_tick defaults to 2, four agents act each tick
    assert all(not d.applied and d.object is None for d in decided)
    assert decided[0].outcome.endswith("Nothing else in the world changes.")
    assert not any(isinstance(e, ObjectChanged) and e.object == "whiteboard"
                   for e in sim.events)


def test_a_replay_gives_the_game_masters_decisions_back_without_a_call(tmp_path):
    import json

    from agentsim.cli_run import run_cli
    from agentsim.options import RunOptions
    from agentsim.rundir import run_dirs

    folder = world(tmp_path)
    assert run_cli(RunOptions(world=str(folder), seed=2, embedder="hash", ticks=3,
                              out=str(tmp_path / "orig"))) == 0
    [original] = run_dirs(tmp_path / "orig")
    assert run_cli(RunOptions(replay=str(original), out=str(tmp_path / "replay"))) == 0
    [rerun] = run_dirs(tmp_path / "replay")
    log = (original / "events.jsonl").read_bytes()
    assert b'"game_master_decided"' in log
    assert (rerun / "events.jsonl").read_bytes() == log
    usage = json.loads((rerun / "manifest.json").read_text())["llm_usage"]["total"]
    assert usage["calls"] == 0
    assert (rerun / "measures.csv").read_text() == (original / "measures.csv").read_text()
