"""The experiment API: forks, interviews of everyone, metrics, exports and reports."""

from __future__ import annotations

import asyncio
import shutil
from datetime import datetime, timedelta
from pathlib import Path

import pandas as pd
import pytest

from agentsim.cli import main
from agentsim.errors import UserError
from agentsim.events import Conversation, Learned, Moved, TickEnded, Utterance, Whispered
from agentsim.experiment import Simulation
from agentsim.export import export_run
from agentsim.metrics import Metrics, answers_frame, events_frame, from_run, knowledge_times
from agentsim.report import write_report
from agentsim.world.loader import load_world

ROOT = Path(__file__).resolve().parent.parent
SMALLVILLE = str(ROOT / "worlds" / "smallville")
TINY = ROOT / "tests" / "fixtures" / "tiny_world"
T = datetime(2023, 2, 13, 8)


def at(minutes: int) -> datetime:
    return T.replace(minute=minutes)


def test_fork_left_alone_repeats_and_a_whisper_diverges():
    sim = Simulation.load(SMALLVILLE, seed=2, embedder="hash")
    sim.clock.tick = 12  # 08:00: everyone is up
    sim.run(ticks=3)
    control, treatment = sim.fork(), sim.fork()
    treatment.whisper("Tom Moreno", "The Willows Market is closing for good next month")
    for s in (sim, control, treatment):
        s.run(ticks=6)
    log = [e.to_json() for e in sim.events]
    assert [e.to_json() for e in control.events] == log
    assert [e.to_json() for e in treatment.events] != log
    assert control.agents["tom_moreno"] is not sim.agents["tom_moreno"]
    rumour = "closing for good"
    assert control.metrics.diffusion(rumour)["knowers"].iloc[-1] == 0
    assert treatment.metrics.diffusion(rumour)["knowers"].iloc[-1] >= 1
    assert treatment.metrics.diffusion(rumour, by="memory")["knowers"].iloc[-1] >= 1
    for s in (control, treatment, sim):
        s.close()


def test_interview_everyone_at_once():
    sim = Simulation.load(str(TINY), seed=0, embedder="hash")
    sim.run(ticks=3)
    answers = sim.interview("all", "Is there a party soon?")
    assert [a.agent for a in answers] == sorted(sim.agents)
    assert all(a.answer for a in answers)
    some = sim.interview(["Ann Lee", "bob_park"], "Is there a party soon?")
    assert [a.agent for a in some] == ["ann_lee", "bob_park"]
    assert sim.interview("Ann Lee", "Is there a party soon?").agent == "ann_lee"
    table = answers_frame(answers)
    assert list(table["agent"]) == sorted(sim.agents) and "sources" in table
    judged = sim.metrics.diffusion("party", by="interview", question="Is there a party soon?")
    assert len(judged) == 1 and judged["total"].iloc[0] == 3
    # knowing is judged by the evidence cited: only residents with a memory naming the party
    holders = {aid for aid, a in sim.agents.items()
               if any("party" in r.text.lower() or (r.event and "party" in r.event.title)
                      for r in a.memory.records())}
    assert set(judged["who"].iloc[0]) == holders and holders
    assert judged["share"].iloc[0] == len(holders) / 3 and judged["hallucinated"].iloc[0] == 0
    with pytest.raises(UserError, match="no agent named 'Zed'"):
        sim.interview(["Zed"], "Hello?")
    sim.close()


def tiny_metrics(events) -> Metrics:
    return Metrics(events, load_world(TINY), {"total": {"calls": 3}, "by_template": {
        "react": {"calls": 3, "prompt_tokens": 30, "completion_tokens": 3, "cost_usd": 0.0}}})


def test_metrics_on_a_hand_made_log():
    talk = Conversation(tick=1, time=at(10), participants=["bob_park", "cal_moss"],
                        place="cafe_counter",
                        turns=[Utterance(speaker="bob_park", text="Ann's party is tomorrow!")])
    events = [
        TickEnded(tick=0, time=at(0), awake=3, conversations=0),
        Moved(tick=1, time=at(10), agent="bob_park", src="house_b_bedroom", dst="cafe_counter",
              destination="cafe_counter"),
        talk,
        TickEnded(tick=1, time=at(10), awake=3, conversations=1),
        Moved(tick=2, time=at(20), agent="bob_park", src="cafe_counter",
              dst="house_b_bedroom", destination="house_b_bedroom"),
        Whispered(tick=2, time=at(20), agent="ann_lee", text="a secret recipe"),
        TickEnded(tick=2, time=at(20), awake=3, conversations=0),
    ]
    m = tiny_metrics(events)
    # Ann and Cal were seeded with the party; Bob heard of it at 08:10 (Cal spoke of it).
    assert knowledge_times(events, "party", {"ann_lee"}) == {
        "ann_lee": None, "bob_park": at(10), "cal_moss": at(10)}
    d = m.diffusion("party")
    assert list(d["knowers"]) == [2, 3, 3] and d["share"].iloc[-1] == 1.0
    assert list(m.diffusion("secret recipe")["knowers"]) == [0, 0, 1]
    assert m.conversations_per_agent().to_dict() == {"Bob Park": 1, "Cal Moss": 1,
                                                     "Ann Lee": 0}
    g = m.relationship_graph()
    assert g.has_edge("Cal Moss", "Bob Park") and g.edges["Bob Park", "Cal Moss"][
        "conversations"] == 1
    before = m.relationship_graph(at=at(0))
    assert before.get_edge_data("Bob Park", "Cal Moss", {}).get("conversations", 0) == 0
    dens = m.density_over_time(every_ticks=1)
    assert dens["density"].is_monotonic_increasing and len(dens) == 3
    came = m.occupancy("cafe", at(5), at(15))
    assert list(came["agent"]) == ["bob_park"] and pd.isna(came["left"].iloc[0])
    left = m.occupancy("cafe", at(0), at(30))
    assert left["arrived"].iloc[0] == at(10) and left["left"].iloc[0] == at(20)
    # datetime columns (NaT for "still there"): durations can be computed
    stay = (left["left"] - left["arrived"]).iloc[0]
    assert stay == timedelta(minutes=10) and pd.isna((came["left"] - came["arrived"]).iloc[0])
    assert m.occupancy("cafe", at(25), at(30)).empty
    usage = m.llm_usage()
    assert list(usage["template"]) == ["react", "total"] and usage["calls"].sum() == 6
    frame = events_frame(events)
    assert list(frame["type"][:3]) == ["tick_ended", "moved", "conversation"]
    assert frame["place"].iloc[1] == "cafe_counter" and frame["participants"].iloc[2] == [
        "bob_park", "cal_moss"]
    assert isinstance(m.events, pd.DataFrame) and len(m.events) == len(events)


def test_learned_events_count_as_knowing():
    ev = [Learned(tick=1, time=at(10), agent="cal_moss", title="party", source="Ann Lee")]
    assert knowledge_times(ev, "PARTY") == {"cal_moss": at(10)}


@pytest.fixture(scope="module")
def smallville_day(tmp_path_factory):
    out = tmp_path_factory.mktemp("runs")
    sim = Simulation.load(SMALLVILLE, seed=1, embedder="hash", out=str(out))
    sim.run(hours=14)  # 06:00-20:00
    path = sim.run_dir.path
    sim.close()
    return path


@pytest.mark.slow  # the 14-hour run they share
@pytest.mark.parametrize("fmt", ["parquet", "csv", "jsonl"])
def test_export_writes_every_table(smallville_day, tmp_path, fmt):
    files = export_run(smallville_day, fmt, tmp_path)
    names = {f.stem for f in files}
    assert names == {"events", "conversations", "agents", "relationships", "memories",
                     "llm_usage"}
    read = {"parquet": pd.read_parquet, "csv": pd.read_csv,
            "jsonl": lambda f: pd.read_json(f, lines=True)}[fmt]
    events = read(tmp_path / f"events.{fmt}")
    assert len(events) > 1000 and {"type", "tick", "time", "agent"} <= set(events.columns)
    assert len(read(tmp_path / f"agents.{fmt}")) == 25
    memories = read(tmp_path / f"memories.{fmt}")
    assert {"agent", "text", "importance", "kind"} <= set(memories.columns)
    assert len(read(tmp_path / f"conversations.{fmt}")) > 10


@pytest.mark.slow  # the 14-hour run they share
def test_report_has_the_diffusion_curve_and_the_relationship_graph(smallville_day, tmp_path):
    report = write_report(smallville_day, out=tmp_path, about=["running for mayor"])
    text = report.read_text()
    for png in ("diffusion.png", "relationships.png", "density.png", "conversations.png",
                "timeline.png"):
        assert f"]({png})" in text
        assert (tmp_path / png).read_bytes()[:4] == b"\x89PNG"
    assert "Valentine's Day party" in text and "| template |" in text
    page = write_report(smallville_day, out=tmp_path / "h", agent="Isabella Rodriguez",
                        as_html=True)
    assert '<img src="relationships.png" alt="Relationship graph">' in page.read_text()
    assert 'alt="A resident&#x27;s day"' in page.read_text()
    with pytest.raises(UserError, match="no agent named 'Zed'"):
        write_report(smallville_day, out=tmp_path, agent="Zed")


@pytest.mark.slow  # the 14-hour run they share
def test_export_and_report_commands(smallville_day, tmp_path):
    from click.testing import CliRunner

    r = CliRunner().invoke(main, ["export", str(smallville_day), "--format", "csv", "-o",
                                  str(tmp_path / "x")])
    assert r.exit_code == 0 and "events.csv" in r.output
    r = CliRunner().invoke(main, ["report", str(smallville_day), "-o", str(tmp_path / "r")])
    assert r.exit_code == 0 and r.output.strip().endswith("report.md")
    r = CliRunner().invoke(main, ["export", str(tmp_path), "--format", "csv"])
    assert r.exit_code == 2 and "not a run directory" in r.output


def test_notebook_style_use_inside_a_running_event_loop():
    from agentsim.cognition.interview import Answer

    async def cell():  # what a Jupyter cell is: code running inside an event loop
        sim = Simulation.load(str(TINY), seed=0, embedder="hash")
        await sim.arun(until=lambda s: s.clock.tick >= 2)
        sim.run(ticks=1)  # the blocking call works there too
        await sim.awhisper("Ann Lee", "The cafe's oven broke this morning")
        answers = await sim.ainterview("all", "What happened to the cafe's oven?")
        await sim.arun(until=lambda s: True)  # already true: no tick
        tick = sim.clock.tick
        await sim.aclose()
        return tick, answers

    tick, answers = asyncio.run(cell())
    assert tick == 3
    assert [a.agent for a in answers] == ["ann_lee", "bob_park", "cal_moss"]
    assert all(isinstance(a, Answer) and a.question.startswith("What happened") for a in answers)
    ann = answers[0]
    assert "whisper" in ann.sources and all(m.score >= 0 for m in ann.memories)
    assert any("oven" in m.record.text for m in ann.memories)


def test_a_blocking_call_from_an_event_handler_is_a_clear_error():
    sim = Simulation.load(str(TINY), seed=0, embedder="hash")
    errors = []

    def handler(e):
        if isinstance(e, TickEnded) and not errors:
            try:
                sim.interview("Ann Lee", "Hello?")
            except UserError as err:
                errors.append(str(err))

    sim.bus.subscribe(handler)
    sim.run(ticks=1)
    assert errors and "await sim.arun" in errors[0] and sim.clock.tick == 1
    sim.close()


def test_a_fork_is_independent_of_its_original():
    def state(s):
        return (s.clock.tick, [e.to_json() for e in s.events], dict(s.objects),
                {a: [r.text for r in x.memory.records()] for a, x in s.agents.items()},
                s.relationships.get_state(), s.rng.getstate(), s.settings)

    sim = Simulation.load(str(TINY), seed=0, embedder="hash")
    sim.run(ticks=3)
    before = state(sim)
    twin = sim.fork()
    assert state(twin)[:5] == before[:5]
    twin.whisper("Ann Lee", "a secret")
    twin.inject("The fire alarm rings")
    twin.objects = {k: "broken" for k in twin.objects}
    twin.settings = twin.settings.replace(max_turns=1)
    twin.run(ticks=2)
    assert state(sim) == before
    assert twin.clock.tick == 5 and len(twin.agents["ann_lee"].memory) > len(
        sim.agents["ann_lee"].memory)
    sim.run(ticks=2)  # the original goes on as if there were no fork
    fresh = Simulation.load(str(TINY), seed=0, embedder="hash")
    fresh.run(ticks=5)
    assert [e.to_json() for e in sim.events] == [e.to_json() for e in fresh.events]
    for s in (twin, sim, fresh):
        s.close()


def test_occupancy_counts_only_what_the_log_covers():
    events = [TickEnded(tick=0, time=at(0), awake=3, conversations=0),
              Moved(tick=1, time=at(10), agent="bob_park", src="house_b_bedroom",
                    dst="cafe_counter", destination="cafe_counter"),
              TickEnded(tick=1, time=at(10), awake=3, conversations=0)]
    m = tiny_metrics(events)
    assert list(m.occupancy("cafe", at(15), at(19))["agent"]) == ["bob_park"]
    assert m.occupancy("cafe", at(20), at(50)).empty  # after the log: unknown, not "there"


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
    """A one-tick run of the tiny world: nobody has talked yet."""
    sim = Simulation.load(str(TINY), seed=0, embedder="hash",
                          out=str(tmp_path_factory.mktemp("tiny")))
    sim.run(ticks=1)
    path = sim.run_dir.path
    sim.close()
    return path


def test_report_of_a_run_without_conversations(tiny_run, tmp_path):
    assert not [e for e in from_run(tiny_run).event_list if e.type == "conversation"]
    text = write_report(tiny_run, out=tmp_path).read_text()
    assert "No scheduled event has started yet" in text and "](relationships.png)" in text
    for png in ("diffusion", "relationships", "density", "conversations", "timeline"):
        assert (tmp_path / f"{png}.png").stat().st_size > 1000


def test_export_and_report_of_runs_with_missing_or_broken_files(tiny_run, tmp_path):
    from click.testing import CliRunner

    def copy(name):
        shutil.copytree(tiny_run, tmp_path / name)
        return tmp_path / name

    def cli(*args):
        r = CliRunner().invoke(main, list(map(str, args)))
        return r.exit_code, r.output.strip().splitlines()

    no_log = copy("no-log")
    (no_log / "events.jsonl").unlink()
    code, out = cli("export", no_log, "--format", "csv")
    assert code == 2 and len(out) == 1 and "no events.jsonl" in out[0]
    assert cli("report", no_log)[0] == 2

    no_ckpt = copy("no-checkpoint")
    shutil.rmtree(no_ckpt / "checkpoints")
    code, out = cli("export", no_ckpt, "--format", "csv", "-o", tmp_path / "x")
    assert code == 0 and any("no checkpoint" in line for line in out)
    assert pd.read_csv(tmp_path / "x" / "events.csv").shape[0] >= 5

    torn = copy("torn")
    with open(torn / "events.jsonl", "a") as f:
        f.write('{"type": "moved", "tick": 1')  # a write cut short by a kill
    assert cli("export", torn, "--format", "jsonl", "-o", tmp_path / "t")[0] == 0
    with open(torn / "events.jsonl", "a") as f:
        f.write("\n{}\n")
    code, out = cli("export", torn, "--format", "jsonl")
    assert code == 2 and len(out) == 1 and "events.jsonl: line" in out[0]
