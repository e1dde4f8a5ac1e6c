"""The TUI, driven by Textual's Pilot (keys step, pause, speed up, select, interview, whisper,
inject, save and quit; the palette; the town tree), the replay, and SVG snapshots of the main
screen, the conversations, the interview dialog and the replay."""

from __future__ import annotations

import asyncio
import io
import math
import re
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from rich.console import Console
from textual.widgets import DataTable, Static

from agentsim.events import Conversation, Measured, SkillLearned, SkillUsed, Utterance, WorldEvent
from agentsim.experiment import Simulation
from agentsim.memory.embed import BatchingEmbedder, HashEmbedder
from agentsim.rundir import RunDir
from agentsim.tui.app import AgentsimApp, AskScreen, TextScreen
from agentsim.tui.dialogs import ConversationsScreen
from agentsim.tui.event_log import REWRAP_DELAY, describe
from agentsim.tui.groups import group_name, speakers, who
from agentsim.tui.inspector import Inspector
from agentsim.tui.measures_panel import measures_view
from agentsim.tui.model import Resident, Tracker, live_frame
from agentsim.tui.pace import Pace, rate_label, sim_per_minute
from agentsim.tui.replay import ReplayApp
from agentsim.tui.runner import Runner
from agentsim.tui.status import live_status
from agentsim.tui.timeline import Timeline
from agentsim.tui.town_map import box_lines, columns_for, map_order
from agentsim.tui.town_tree import fit_name

SMALLVILLE = str(Path(__file__).resolve().parent.parent / "worlds" / "smallville")
DEBATE = str(Path(__file__).resolve().parent.parent / "worlds" / "debate")
SIZE = (120, 40)


def smallville(**kw):
    return Simulation.load(SMALLVILLE, seed=1, embedder="hash", **kw)


def debate(**kw):
    return Simulation.load(DEBATE, seed=1, embedder="hash", skills=False, **kw)


def status(app) -> str:
    return str(app.query_one("#status", Static).render())


def plain(renderable) -> str:
    console = Console(width=60, record=True, file=io.StringIO(), color_system=None)
    console.print(renderable)
    return console.export_text()


def log_text(app) -> str:
    """The log's lines as one string, with every run of whitespace (wrapping, the time
    column) made one space."""
    return " ".join(" ".join(line.text for line in app.event_log.lines).split())


async def until(pilot, condition, timeout: float = 60.0) -> None:
    end = time.perf_counter() + timeout
    while not condition():
        assert time.perf_counter() < end, "timed out"
        await pilot.pause(0.02)


def test_import_agentsim_stays_free_of_textual():
    code = ("import sys, agentsim, agentsim.engine, agentsim.experiment; "
            "assert 'textual' not in sys.modules")
    subprocess.run([sys.executable, "-c", code], check=True)


async def test_step_advances_the_tick_and_updates_the_views():
    sim = smallville()
    app = AgentsimApp(sim, 50, autostart=False)
    async with app.run_test(size=SIZE) as pilot:
        assert "paused" in status(app) and "tick 0/50" in status(app)
        table = app.query_one("#residents", DataTable)
        assert table.row_count == len(sim.agents)
        assert table.get_cell("isabella_rodriguez", "doing") == "sleeping"
        await pilot.press("n")
        await until(pilot, lambda: sim.clock.tick == 1 and "tick 1/50" in status(app))
        assert table.get_cell("isabella_rodriguez", "resident").startswith("Isabella")
        assert table.get_cell("isabella_rodriguez", "doing") != "sleeping"
        assert app.paused and "paused" in status(app)
        await pilot.pause(0.2)
        assert sim.clock.tick == 1  # a step is one tick
    await sim.aclose()


async def test_pause_resume_and_speed_keys():
    sim = smallville()
    app = AgentsimApp(sim, 50, speed=1.0, autostart=False)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("space")
        assert not app.paused and "running" in status(app)
        await pilot.press("space")
        assert app.paused and "paused" in status(app)
        await pilot.press("plus")
        assert app.speed == 2.0 and "2 tick/s" in status(app)
        await pilot.press("minus", "minus")
        assert app.speed == 0.5 and "0.5 tick/s" in status(app)
        await pilot.press("minus")
        assert app.speed == 0.5
        await pilot.press(*["plus"] * 6)
        assert math.isinf(app.speed) and "max speed" in status(app)
    await sim.aclose()


async def test_selecting_a_resident_updates_the_inspector():
    sim = smallville()
    ids = sorted(sim.agents)
    app = AgentsimApp(sim, 50, autostart=False)
    async with app.run_test(size=SIZE) as pilot:
        inspector = app.query_one(Inspector)
        assert inspector.agent_id == ids[0]
        await pilot.press("down")
        assert app.selected() == inspector.agent_id == ids[1]
        await pilot.press("j", "j")
        assert inspector.agent_id == ids[3]
        await pilot.press("k")
        assert inspector.agent_id == ids[2]
        text = plain(inspector.card)
        agent = sim.agents[ids[2]]
        assert agent.name in text and "Today's plan" in text and "Relationships" in text
        known = [b for _, b in sim.relationships.graph.out_edges(agent.name)]
        assert known and all(b in text for b in known)
    await sim.aclose()


async def test_interview_shows_the_answer_and_its_sources():
    sim = smallville()
    app = AgentsimApp(sim, 50, autostart=False)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("i")
        assert isinstance(app.screen, AskScreen)
        await pilot.press(*"Plans?", "enter")
        answer = app.screen.query_one("#answer", Static)
        await until(pilot, lambda: "Drawn from" in str(answer.render()))
        text = str(answer.render())
        assert "A: " in text and "recency" in text
        await pilot.press("escape")
        assert not isinstance(app.screen, AskScreen)
        assert app.paused
    await sim.aclose()


async def test_whisper_adds_a_memory_to_the_selected_resident():
    sim = smallville()
    app = AgentsimApp(sim, 50, autostart=False)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("down")
        aid = app.selected()
        before = len(sim.agents[aid].memory)
        await pilot.press("w")
        assert isinstance(app.screen, TextScreen)
        await pilot.press(*"Cafe closes early", "enter")
        await until(pilot, lambda: len(sim.agents[aid].memory) > before)
        [memory] = sim.agents[aid].memory.search("closes early")
        assert memory.source == "whisper"
        await until(pilot, lambda: "closes early" in plain(app.query_one(Inspector).card))
    await sim.aclose()


async def test_world_event_reaches_everyone_in_the_area():
    sim = smallville()
    app = AgentsimApp(sim, 50, autostart=False)
    async with app.run_test(size=SIZE) as pilot:
        aid = app.selected()
        places = sim.world.places
        area = places.area_of(sim.agents[aid].location)
        there = [a for a in sim.agents.values() if places.area_of(a.location) == area]
        elsewhere = [a for a in sim.agents.values() if places.area_of(a.location) != area]
        await pilot.press("e", *"Fire alarm", "enter")
        await until(pilot, lambda: any(isinstance(e, WorldEvent) for e in sim.events))
        assert len(there) > 1 and all(a.memory.search("Fire alarm") for a in there)
        assert not any(a.memory.search("Fire alarm") for a in elsewhere)
    await sim.aclose()


async def test_save_writes_a_checkpoint(tmp_path):
    sim = smallville(out=str(tmp_path))
    app = AgentsimApp(sim, 50, autostart=False)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("n")
        await until(pilot, lambda: sim.clock.tick == 1)
        await pilot.press("s")
        assert (sim.run_dir.path / "checkpoints" / "tick-000001" / "state.json").is_file()
    await sim.aclose()


async def test_save_without_a_run_directory_says_so():
    sim = smallville()
    app = AgentsimApp(sim, 50, autostart=False)
    notes: list[str] = []
    async with app.run_test(size=SIZE) as pilot:
        app.notify = lambda message, **kw: notes.append(message)
        await pilot.press("s")
        assert any("no run directory" in n for n in notes)
    await sim.aclose()


async def test_quit_checkpoints_and_exits(tmp_path):
    sim = smallville(out=str(tmp_path))
    app = AgentsimApp(sim, 50, autostart=False)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("n")
        await until(pilot, lambda: sim.clock.tick == 1)
        await pilot.press("q")
        await pilot.pause()
        assert not app.is_running
    assert (sim.run_dir.path / "checkpoints" / "tick-000001").is_dir()
    await sim.aclose()


async def test_run_stops_at_total_ticks_without_exiting():
    sim = smallville()
    app = AgentsimApp(sim, 3, speed=math.inf)
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: "run finished" in status(app))
        assert sim.clock.tick == 3 and app.is_running
        await pilot.press("n", "space")
        await pilot.pause(0.1)
        assert sim.clock.tick == 3
    await sim.aclose()


async def test_ui_answers_keys_while_the_llm_is_slow():
    """Every LLM call waits until the test lets it go, so the first tick cannot end: each key
    must be answered while it is still waiting on the LLM (a view that waited for the tick
    could not be)."""
    sim = smallville()
    real = sim.llm
    gate = asyncio.Event()  # never set: the LLM answers nothing while the keys are pressed

    class Slow:
        def __getattr__(self, name):
            return getattr(real, name)

        async def ask(self, *a, **kw):
            await gate.wait()
            return await real.ask(*a, **kw)

    sim.llm = Slow()
    app = AgentsimApp(sim, 50)
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: app.runner.busy)  # the first tick waits on the slow LLM
        await pilot.press("space")
        assert app.paused and "‖ pausing…" in status(app)  # the tick in flight goes on
        await pilot.press("plus")
        assert "2 tick/s" in status(app)
        await pilot.press("j")
        assert app.inspector.agent_id == sorted(sim.agents)[1]
        assert app.runner.busy and sim.clock.tick == 0
        await pilot.press("q")  # waits for the tick ...
        assert app.is_running
        await pilot.press("q")  # ... unless asked twice
        await pilot.pause()
        assert not app.is_running
        assert sim.clock.tick == 0  # it left without waiting for the LLM
    sim.llm = real
    await sim.aclose()


async def test_palette_lists_the_simulation_commands():
    sim = smallville()
    app = AgentsimApp(sim, 50, autostart=False)
    async with app.run_test(size=SIZE):
        titles = [c.title for c in app.get_system_commands(app.screen)]
        for title in ("Pause / resume", "Step", "Faster", "Slower", "Interview", "Whisper",
                      "World event", "Conversations", "Save checkpoint", "Quit"):
            assert titles.count(title) == 1
    await sim.aclose()


async def test_ui_answers_keys_while_embedding_is_slow():
    """An embedder that is busy (as the MiniLM model can be on a loaded machine) runs on its
    own thread: keys are answered while the tick waits on it. The embedder here blocks until
    the test lets it go, so the keys are provably answered while it is still busy."""
    sim = smallville()
    release, busy = threading.Event(), threading.Event()

    class BlockedHash(HashEmbedder):
        def embed(self, texts):
            busy.set()
            release.wait(timeout=30)
            return super().embed(texts)

    batching = BatchingEmbedder(BlockedHash())
    sim.embed = batching.embed
    app = AgentsimApp(sim, 50)
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: app.runner.busy and busy.is_set())
        await pilot.press("space")
        await pilot.press("j")
        assert "‖ pausing…" in status(app)
        assert app.inspector.agent_id == sorted(sim.agents)[1]
        assert not release.is_set() and app.runner.busy and sim.clock.tick == 0
        release.set()
        await pilot.press("q", "q")
        await pilot.pause()
        assert not app.is_running
    batching.close()
    await sim.aclose()


async def test_palette_runs_a_simulation_command():
    sim = smallville()
    app = AgentsimApp(sim, 50, autostart=False)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("ctrl+p")
        await pilot.press(*"Faster")
        await until(pilot, lambda: "Faster" in str(app.screen.query("CommandList").first()
                                                     .get_option_at_index(0).prompt))
        await pilot.press("enter")
        await until(pilot, lambda: app.speed == 2.0)
        assert "2 tick/s" in status(app)
    await sim.aclose()


async def test_ctrl_q_quits_with_a_checkpoint_like_q(tmp_path):
    sim = smallville(out=str(tmp_path))
    app = AgentsimApp(sim, 50, autostart=False)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("n")
        await until(pilot, lambda: sim.clock.tick == 1 and not app.runner.busy)
        await pilot.press("ctrl+q")
        await pilot.pause()
        assert not app.is_running
    assert (sim.run_dir.path / "checkpoints" / "tick-000001").is_dir()
    await sim.aclose()


async def test_choosing_a_resident_in_the_town_tree_selects_them():
    sim = smallville()
    app = AgentsimApp(sim, 50, autostart=False)
    async with app.run_test(size=SIZE) as pilot:
        leaf = next(n for area in app.town.root.children for n in area.children
                    if n.data == "klaus_mueller")
        app.town.focus()
        app.town.move_cursor(leaf)
        await pilot.press("enter")
        assert app.selected() == app.inspector.agent_id == "klaus_mueller"
        assert "Klaus Mueller" in plain(app.inspector.card)
    await sim.aclose()


async def test_inspector_lists_the_skills_used_and_the_log_warns_of_a_failed_one():
    sim = smallville()
    aid = "isabella_rodriguez"
    app = AgentsimApp(sim, 50, autostart=False)
    async with app.run_test(size=SIZE) as pilot:
        app.table.select(aid)
        await pilot.pause()
        assert "Skills used" in plain(app.inspector.card)
        assert "no skills used yet" in plain(app.inspector.card)
        now, tick = sim.clock.now, sim.clock.tick
        sim.bus.publish(SkillLearned(tick=tick, time=now, agent=aid, skill="brew_coffee",
                                     description="make a pot of coffee at the counter",
                                     rounds=1))
        sim.bus.publish(SkillUsed(tick=tick, time=now, agent=aid, skill="brew_coffee",
                                  task="open the cafe", ok=True))
        sim.bus.publish(SkillUsed(tick=tick, time=now, agent=aid, skill="bake_bread",
                                  task="bake for the party", ok=False,
                                  error="no oven at the counter"))
        sim.bus.publish(SkillUsed(tick=tick, time=now, agent="klaus_mueller", skill="take_notes",
                                  task="study", ok=True))
        await pilot.press("n")  # the events are drawn when the tick ends
        await until(pilot, lambda: sim.clock.tick == 1 and not app.runner.busy)
        await pilot.pause()
        card = plain(app.inspector.card)
        assert "no skills used yet" not in card and "take_notes" not in card
        assert card.index("bake_bread") < card.index("brew_coffee")  # newest first
        assert "✗" in card and "failed: no oven at the counter" in card and "✓" in card
        log = log_text(app)
        assert "learns a skill: brew_coffee" in log and "uses brew_coffee" in log
        assert "skill bake_bread failed (bake for the party): no oven" in log
    [warning] = describe(SkillUsed(tick=0, time=now, agent=aid, skill="bake_bread", task="",
                                   ok=False), lambda a: a, sim.world.places)
    assert warning.style == "yellow" and str(warning).startswith("⚠ ")
    await sim.aclose()


async def test_log_lines_wrap_again_after_a_resize():
    sim = smallville()
    app = AgentsimApp(sim, 50, autostart=False)
    long_text = " ".join(["The bakery on the corner is closing for good next month"] * 3)
    async with app.run_test(size=SIZE) as pilot:
        app.event_log.show([WorldEvent(tick=0, time=sim.clock.now, place=None, text=long_text)])
        await pilot.pause(REWRAP_DELAY + 0.1)
        narrow = len(app.event_log.lines)
        await pilot.resize_terminal(200, 40)
        await pilot.pause(REWRAP_DELAY + 0.2)
        wide = len(app.event_log.lines)
        assert wide < narrow
        assert max(line.cell_length for line in app.event_log.lines) > 100
        await pilot.resize_terminal(*SIZE)
        await pilot.pause(REWRAP_DELAY + 0.2)
        assert len(app.event_log.lines) == narrow
    await sim.aclose()


async def test_status_line_fits_the_width_with_every_figure():
    sim = smallville()
    app = AgentsimApp(sim, 50, autostart=False)
    async with app.run_test(size=(100, 40)) as pilot:
        line = status(app)
        assert len(line) <= 100
        for part in ("Mon 06:00", "tick 0/50", "paused", "1 tick/s", "LLM 0 ·", "0 tok",
                     "$0.0000", "0 cached", "offline mind"):
            assert part in line
        await pilot.resize_terminal(*SIZE)
        await pilot.pause()
        assert "Mon Feb 13 06:00" in status(app) and "0 calls" in status(app)
    await sim.aclose()


async def test_a_resumed_run_opens_with_its_log_and_conversations(tmp_path):
    from agentsim.cli_run import _build
    from agentsim.options import RunOptions

    first = smallville(out=str(tmp_path))
    await first.arun(ticks=12)  # 06:00-08:00: the first conversations of the morning
    await first.aclose()
    talk = next(e for e in first.events if isinstance(e, Conversation))
    rd = RunDir.open(first.run_dir.path)
    sim = _build(RunOptions(world=SMALLVILLE, seed=1, embedder="hash"), rd, None)
    sim.attach(rd, resumed=True)
    app = AgentsimApp(sim, 6, autostart=False)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        log = log_text(app)
        assert "resumed from the checkpoint at tick 12" in log
        assert "talk at" in log
        someone = talk.participants[0]
        app.table.select(someone)
        await pilot.pause()
        assert "Last conversation" in plain(app.inspector.card)
    await sim.aclose()


async def test_inspector_shows_the_last_retrieval_with_its_score_breakdown():
    sim = smallville()
    app = AgentsimApp(sim, 50, autostart=False)
    async with app.run_test(size=SIZE) as pilot:
        aid = app.selected()
        assert "Last retrieval" not in plain(app.inspector.card)
        await sim.ainterview(aid, "What do you do for work?")
        app.refresh_inspector()
        await pilot.pause()
        text = plain(app.inspector.card)
        assert "Last retrieval" in text and "What do you do for work" in text
        assert "recency" in text and "relevance" in text
    await sim.aclose()


async def test_conversations_screen_lists_the_selected_residents_talks_then_everyones():
    sim = smallville()
    await sim.arun(ticks=12)  # 06:00-08:00: the first conversations of the morning
    talks = [e for e in sim.events if isinstance(e, Conversation)]
    assert talks
    someone = talks[0].participants[0]
    app = AgentsimApp(sim, 50, autostart=False)
    async with app.run_test(size=SIZE) as pilot:
        app.table.select(someone)
        await pilot.press("c")
        screen = app.screen
        assert isinstance(screen, ConversationsScreen)
        mine = [c for c in talks if someone in c.participants]
        assert screen.shown() == mine
        text = str(screen.query_one("#talks", Static).render())
        assert talks[0].turns[0].text.split()[0] in text
        await pilot.press("a")
        assert screen.shown() == talks
        assert f"({len(talks)})" in str(screen.query_one("#talks-title").render())
        await pilot.press("escape")
        assert not isinstance(app.screen, ConversationsScreen)
    await sim.aclose()


# -- the first hour (issue 15) ---------------------------------------------------------------
class GatedLLM:
    """The simulation's LLM, whose calls wait on `gate` once `closed()` says so."""

    def __init__(self, real, closed=lambda: True):
        self.real, self.closed, self.gate = real, closed, asyncio.Event()
        self.waiting = 0  # calls held at the gate now

    def __getattr__(self, name):
        return getattr(self.real, name)

    async def ask(self, *a, **kw):
        if self.closed() and not self.gate.is_set():
            self.waiting += 1
            try:
                await self.gate.wait()
            finally:
                self.waiting -= 1
        return await self.real.ask(*a, **kw)


class LoadingHash(HashEmbedder):
    """A hash embedder that says it is still loading its model, and blocks in `embed`, until
    the test lets it go."""

    def __init__(self):
        super().__init__()
        self.loaded = False
        self.release, self.busy = threading.Event(), threading.Event()

    def embed(self, texts):
        self.busy.set()
        self.release.wait(timeout=30)
        return super().embed(texts)


def banner(app) -> str:
    return str(app.banner.render()) if app.banner.display else ""


async def test_a_startup_line_says_what_the_first_tick_does_until_it_is_drawn():
    """Loading the embedder, then the first plans (the LLM held), then nothing once tick 0 is
    shown: each stage is held open by the fakes, so the line is seen at every one."""
    sim = smallville()
    slow = LoadingHash()
    batching = BatchingEmbedder(slow)
    sim.embedder, sim.embed = slow, batching.embed
    llm = sim.llm = GatedLLM(sim.llm)
    app = AgentsimApp(sim, 50, speed=math.inf)
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: slow.busy.is_set() and "Loading the embedding model"
                    in banner(app))
        assert sim.clock.tick == 0 and app.runner.busy
        slow.loaded = True
        slow.release.set()
        await until(pilot, lambda: re.search(r"Writing first plans \(0/\d+ awake; \d+ still "
                                             r"asleep\)", banner(app)))
        assert sim.clock.tick == 0
        llm.gate.set()
        await until(pilot, lambda: sim.clock.tick >= 1 and app.runner.ticks_done >= 1)
        await until(pilot, lambda: not app.banner.display)
        await pilot.press("q", "q")
    batching.close()
    sim.llm = llm.real
    await sim.aclose()


async def test_no_startup_line_while_paused_at_the_start():
    sim = smallville()
    app = AgentsimApp(sim, 50, autostart=False)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        assert not app.banner.display
    await sim.aclose()


def test_pace_measures_ticks_per_wall_second_over_a_window():
    now = [0.0]
    pace = Pace(window=30, clock=lambda: now[0])
    assert pace.rate() is None
    pace.restart()
    for t in (10.0, 20.0):
        now[0] = t
        pace.ticked()
    assert pace.rate() == pytest.approx(2 / 20)
    now[0] = 41.0  # a long tick in flight: the rate falls while it waits
    assert pace.rate() == pytest.approx(1 / 30)
    now[0] = 100.0
    pace.restart()  # resumed after a pause: the pause does not count
    now[0] = 102.0
    pace.ticked()
    assert pace.rate() == pytest.approx(1 / 2)
    assert rate_label(0.1) == "0.10 tick/s" and rate_label(2.5) == "2.5 tick/s"
    assert sim_per_minute(0.1, 10) == "1.0 sim-h/min"
    assert sim_per_minute(0.01, 10) == "6.0 sim-min/min"


def test_status_shows_the_measured_rate_beside_the_target():
    sim = smallville()
    now = [0.0]
    runner = Runner(sim, 50, speed=2.0)
    runner.pace = Pace(clock=lambda: now[0])
    runner.pace.restart()
    assert "measuring… (target 2 tick/s)" in str(live_status(sim, runner))
    for t in (10.0, 20.0):
        now[0] = t
        runner.pace.ticked()
    line = str(live_status(sim, runner))
    assert "0.10 tick/s · 1.0 sim-h/min (target 2 tick/s)" in line
    assert "running" in line
    short = str(live_status(sim, runner, 100))
    assert len(short) <= 100 and "0.10 tick/s" in short and "(target 2)" in short
    runner.pause()
    assert "0.10" not in str(live_status(sim, runner)) and "2 tick/s" in str(
        live_status(sim, runner))
    sim.close()


async def test_status_shows_a_measured_rate_while_running():
    sim = smallville()
    llm = sim.llm = GatedLLM(sim.llm, closed=lambda: app.runner.ticks_done >= 2)
    app = AgentsimApp(sim, 50, speed=math.inf)
    async with app.run_test(size=SIZE) as pilot:  # held in the first tick after two with calls
        await until(pilot, lambda: app.runner.ticks_done >= 2 and app.runner.busy
                    and llm.waiting)
        app.refresh_status()
        line = status(app)
        assert "running" in line and "(target max speed)" in line
        assert re.search(r"[\d.]+ tick/s · [\d.]+ sim-(min|h)/min", line), line
        await pilot.press("q", "q")
    sim.llm = llm.real
    await sim.aclose()


async def test_interview_hint_empty_enter_and_thinking_state():
    sim = smallville()
    llm = sim.llm = GatedLLM(sim.llm)
    app = AgentsimApp(sim, 50, autostart=False)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("i")
        screen = app.screen
        assert isinstance(screen, AskScreen)
        assert screen.query_one("#question").placeholder.startswith("Type a question, e.g.")
        answer = screen.query_one("#answer", Static)
        await pilot.press("enter")
        assert "Type a question first" in str(answer.render())
        await pilot.press(*"Any plans?", "enter")
        await pilot.pause()
        assert "You asked: Any plans?" in str(screen.query_one("#asked", Static).render())
        name = sim.agents[app.selected()].name
        assert f"{name} is thinking…" in str(answer.render())
        assert screen.pending == "Any plans?"  # the LLM has not answered
        llm.gate.set()
        await until(pilot, lambda: "Drawn from" in str(answer.render()))
        assert screen.pending is None
    sim.llm = llm.real
    await sim.aclose()


async def test_every_resident_is_in_view_at_120x40():
    sim = smallville()
    app = AgentsimApp(sim, 50, autostart=False)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        table = app.table
        assert table.row_count == len(sim.agents) == 25
        assert table.size.height >= table.row_count + 1  # the header and every row
        assert table.max_scroll_y == 0
    await sim.aclose()


async def test_footer_shows_the_resident_and_map_keys():
    from textual.widgets._footer import FooterKey

    sim = smallville()
    app = AgentsimApp(sim, 50, autostart=False)
    wanted = ("j", "k", "m", "space", "i", "e", "q")

    def drawn() -> dict:
        return {k.key: k for k in app.screen.query(FooterKey) if k.region}

    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: set(wanted) <= set(drawn()))  # the footer composes late
        keys = drawn()
        for key in wanted:
            assert key in keys, key
            region = keys[key].region
            assert region.width and region.right <= SIZE[0], key  # drawn, on the screen
    await sim.aclose()


async def test_world_event_says_at_once_that_it_is_under_way():
    sim = smallville()
    slow = LoadingHash()
    slow.loaded = True
    batching = BatchingEmbedder(slow)
    sim.embed = batching.embed
    app = AgentsimApp(sim, 50, autostart=False)
    notes: list[str] = []
    async with app.run_test(size=SIZE) as pilot:
        app.notify = lambda message, **kw: notes.append(message)
        await pilot.press("e", *"Fire alarm", "enter")
        await until(pilot, lambda: any("Telling everyone at" in n for n in notes))
        assert not any(isinstance(e, WorldEvent) for e in sim.events)  # still embedding
        assert not any("noticed" in n for n in notes)
        slow.release.set()
        await until(pilot, lambda: any("noticed" in n for n in notes))
    batching.close()
    await sim.aclose()


async def test_map_mode_toggles_and_shows_each_resident_in_their_area():
    sim = smallville()
    app = AgentsimApp(sim, 50, autostart=False)
    places = sim.world.places
    async with app.run_test(size=SIZE) as pilot:
        assert not app.map.display and app.table.display
        await pilot.press("m")
        await pilot.pause()
        assert app.map_mode and app.map.region.height > 10 and not app.table.region
        aid = "isabella_rodriguez"
        area = places.area_of(sim.agents[aid].location)
        assert app.map.where_is(aid) == area
        box = app.map.boxes[area]

        def shows_her(b) -> bool:  # by first name, or by initials in a crowded box
            return bool(re.search(r"\b(Isabella|IR)\b", str(b.render())))

        assert box.region and shows_her(box)
        await pilot.press(*["n"] * 12)  # to 08:00: she has gone to work
        await until(pilot, lambda: sim.clock.tick == 12 and not app.runner.busy)
        await pilot.pause()
        moved = places.area_of(sim.agents[aid].location)
        assert moved != area and app.map.where_is(aid) == moved
        assert shows_her(app.map.boxes[moved]) and not shows_her(box)
        await pilot.press("m")
        await pilot.pause()
        assert not app.map_mode and app.table.region and not app.map.region
    await sim.aclose()


def test_town_map_lays_out_any_world():
    from agentsim.world.loader import load_world

    tiny = load_world(Path(__file__).parent / "fixtures" / "tiny_world")
    assert map_order(tiny.places) == tiny.places.areas() or all(
        tiny.places.position(a) for a in tiny.places.areas())
    big = load_world(SMALLVILLE).places
    order = map_order(big)
    spots = [big.position(a) for a in order]
    assert sorted(order) == sorted(big.areas())
    assert spots == sorted(spots, key=lambda s: (s[1], s[0]))  # top to bottom, left to right
    assert columns_for(16, 80) == 4 and columns_for(3, 80) == 2 and columns_for(16, 30) == 1


def test_area_box_shortens_names_to_initials_then_counts_the_rest():
    people = [Resident(f"a{i}", name, "r", "working") for i, name in enumerate(
        ["Isabella Rodriguez", "Giorgio Rossi", "Carlos Gomez", "Arthur Burton"])]

    def box(width: int, height: int, selected: str | None = None) -> list[str]:
        return [str(line) for line in box_lines("Hobbs Cafe", [("counter", people)], width,
                                                height, selected)]

    roomy = box_lines("Hobbs Cafe", [("counter", people)], 30, 4, selected="a1")
    assert [str(line) for line in roomy] == ["Hobbs Cafe", "counter: Isabella Giorgio",
                                             " Carlos Arthur"]
    assert any(s.style == "reverse bold" for line in roomy for s in line.spans)  # selected
    assert box(16, 3) == ["Hobbs Cafe", "Isabella Giorgio", " Carlos Arthur"]  # no room
    assert box(12, 3) == ["Hobbs Cafe", "counter: IR", " GR CG AB"]  # initials
    assert box(10, 3) == ["Hobbs Cafe", "IR GR CG", " AB"]  # initials, no room
    assert box(10, 2) == ["Hobbs Cafe", "+4 more"]
    assert box(20, 4)[0] == "Hobbs Cafe" and len(box(4, 9)) <= 9
    assert [str(line) for line in box_lines("Hobbs Cafe", [], 20, 4, None)] == [
        "Hobbs Cafe", "·"]


def test_tree_labels_keep_the_meaning_of_long_names():
    assert fit_name("Hobbs Cafe") == "Hobbs Cafe"
    assert fit_name("The Willows Market and Pharmacy", 28) == "The Willows Market…Pharmacy"
    assert len(fit_name("The Willows Market and Pharmacy", 20)) <= 20


# -- replay ---------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def recorded():
    """A 20-tick run: its events, and each tick's live frame."""
    sim = smallville()
    tracker = Tracker.for_sim(sim)
    sim.bus.subscribe(tracker.feed)
    frames = [live_frame(sim, tracker)]
    for _ in range(20):
        sim.step()
        frames.append(live_frame(sim, tracker))
    sim.close()
    return sim, list(sim.events), frames


def test_timeline_rebuilds_every_tick_from_the_events(recorded):
    sim, events, live = recorded
    timeline = Timeline(events, sim.world)
    assert timeline.last == 20
    for frame, rebuilt in zip(live, timeline.frames, strict=True):
        assert rebuilt.time == frame.time and rebuilt.tick == frame.tick
        assert rebuilt.residents == frame.residents
    assert any(r.talking_with for f in timeline.frames for r in f.residents.values())


async def test_replay_moves_back_and_forth(recorded):
    sim, events, live = recorded
    app = ReplayApp(events, sim.world)
    async with app.run_test(size=SIZE) as pilot:
        table = app.query_one("#residents", DataTable)
        assert app.position == 0 and "tick 0/20" in status(app)
        await pilot.press("right", "right")
        assert app.position == 2
        await pilot.press("shift+right")
        assert app.position == 8 and "tick 8/20" in status(app)
        for aid, r in live[8].residents.items():
            cell = table.get_cell(aid, "doing")
            assert cell and r.doing.startswith(cell.rstrip("…"))
        await pilot.press("left")
        assert app.position == 7
        await pilot.press("shift+left", "shift+left")
        assert app.position == 0
        await pilot.press("end")
        assert app.position == 20
        await pilot.press("c")
        assert isinstance(app.screen, ConversationsScreen)
        await pilot.press("a")
        everyone = [e for e in events if isinstance(e, Conversation)]
        assert app.screen.shown() == everyone
        await pilot.press("escape")
        await pilot.press("right")
        assert app.position == 20
        await pilot.press("q")
        await pilot.pause()
        assert not app.is_running


def test_a_run_directory_opens_for_replay(tmp_path):
    from agentsim.tui import run_world

    sim = smallville(out=str(tmp_path))
    sim.run(ticks=3)
    sim.close()
    rd = RunDir.open(sim.run_dir.path)
    app = ReplayApp(rd.read_events(), run_world(rd.read_manifest()))
    assert app.timeline.last == 3 and app.world.spec.name == "Smallville"


# -- a world with a protocol: its measures and its group conversations --------------------
PANEL = ["Ada Okafor", "Ben Larsen", "Chen Wei", "Dora Mendes"]


def footer_keys(app) -> str:
    return " ".join(b.description for (_, b, enabled, _) in app.active_bindings.values()
                    if b.show and enabled)


async def test_a_debate_shows_its_measures_by_round_as_they_arrive():
    sim = debate()
    app = AgentsimApp(sim, 30, autostart=False)
    async with app.run_test(size=SIZE) as pilot:
        assert app.measures.active and app.measures_shown
        assert "nothing measured yet" in plain(app.measures.content)
        assert "Measures" in footer_keys(app)
        await pilot.press("n")
        await until(pilot, lambda: sim.clock.tick == 1 and not app.runner.busy)
        await pilot.pause(0.05)
        one = plain(app.measures.content)
        # round 0: each debater's answer judged, the majority's too (4 + 1 rows)
        rows = [e for e in sim.events if isinstance(e, Measured)]
        assert len(rows) == 5 and "Debate · 5 measures" in one
        single = sum(e.values["correct"] for e in rows[:4]) / 4
        majority = rows[4].values["correct"]
        assert "accuracy by round" in one and "one agent" in one and "majority" in one
        assert re.search(rf"^0 +{single:.2f} +{float(majority):.2f}", one, re.M), one
        assert not re.search(r"^1 +\d", one, re.M)  # no round 1 yet
        assert "latest (tick 0) kind round" in " ".join(one.split())
        await pilot.press("n")
        await until(pilot, lambda: sim.clock.tick == 2 and not app.runner.busy)
        await pilot.pause(0.05)
        two = plain(app.measures.content)
        assert "Debate · 10 measures" in two and re.search(r"^1 +\d\.\d\d", two, re.M), two
        # v hides the panel (the tree takes the column), and shows it again
        assert app.measures.region.height > 0
        await pilot.press("v")
        await pilot.pause(0.05)
        assert not app.measures_shown and app.measures.region.height == 0
        assert app.town.region.height > 0
        await pilot.press("v")
        await pilot.pause(0.05)
        assert app.measures_shown and app.measures.region.height > 0
    await sim.aclose()


async def test_a_group_conversation_names_the_group_and_every_speaker():
    sim = debate()
    app = AgentsimApp(sim, 30, autostart=False)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("n")
        await until(pilot, lambda: sim.clock.tick == 1 and not app.runner.busy)
        await pilot.pause(0.05)
        text = log_text(app)
        assert "Debate panel (4): Ada Okafor, Ben Larsen, Chen Wei and Dora Mendes at " \
               "Quiz Society: debating room" in text
        talk = next(e for e in sim.events if isinstance(e, Conversation))
        assert len(talk.turns) == 4
        for t in talk.turns:  # every line with its speaker
            assert f"{sim.agents[t.speaker].name.split()[0]}: {t.text}" in text
        # the doing column says they talk, not that they sleep (a panel plans no day)
        table = app.query_one("#residents", DataTable)
        assert table.get_cell("ada_okafor", "doing") == "talking"
        # the conversation reader: the group, all four, every line
        await pilot.press("c")
        await pilot.pause(0.1)
        assert isinstance(app.screen, ConversationsScreen)
        talks = plain(app.screen.query_one("#talks", Static).content)
        flat = " ".join(talks.split())
        assert "Debate panel (4): Ada Okafor, Ben Larsen, Chen Wei and Dora Mendes" in flat
        for t in talk.turns:
            assert f"{sim.agents[t.speaker].name.split()[0]}: " in talks
        await pilot.press("escape")
    await sim.aclose()


async def test_smallville_has_no_measures_panel():
    sim = smallville()
    app = AgentsimApp(sim, 10, autostart=False)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("n")
        await until(pilot, lambda: sim.clock.tick == 1 and not app.runner.busy)
        assert not app.measures.active and not app.measures_shown
        assert not app.query("#measures") and not app.query("#left")
        assert "Measures" not in footer_keys(app)
        await pilot.press("v")  # no key: nothing changes
        assert not app.screen.has_class("-no-measures")
    await sim.aclose()


def test_replaying_a_debate_shows_the_measures_of_the_moment(tmp_path):
    from agentsim.tui import run_world

    sim = debate(out=str(tmp_path))
    sim.run(ticks=3)
    sim.close()
    rd = RunDir.open(sim.run_dir.path)

    async def check():
        app = ReplayApp(rd.read_events(), run_world(rd.read_manifest()), position=1)
        async with app.run_test(size=SIZE) as pilot:
            first = plain(app.measures.content)
            assert "Debate · 5 measures" in first and not re.search(r"^1 +\d", first, re.M)
            await pilot.press("right", "right")
            later = plain(app.measures.content)
            assert "Debate · 15 measures" in later and re.search(r"^2 +\d", later, re.M)
            await pilot.press("home")
            assert "nothing measured yet" in plain(app.measures.content)

    asyncio.run(check())


def test_the_measures_view_lays_out_a_classroom_and_a_studio():
    from agentsim.protocols.classroom import Classroom
    from agentsim.protocols.studio import Studio

    names = {"mia_tan": "Mia Tan", "sam_okoro": "Sam Okoro"}.get
    rows = [{"kind": "quiz", "phase": phase, "agent": a, "question": "q1", "correct": ok}
            for phase, a, ok in [("before", "mia_tan", False), ("before", "sam_okoro", False),
                                 ("after", "mia_tan", True), ("after", "sam_okoro", False)]]
    s = {"protocol": "classroom", "rows": 4, **Classroom.summarise(rows)}
    text = plain(measures_view("classroom", s, None, names))
    assert "class score before 0.00" in " ".join(text.split())
    assert re.search(r"^student +before +after", text, re.M), text
    assert re.search(r"^Mia Tan +0\.00 +1\.00", text, re.M), text
    assert re.search(r"^Sam Okoro +0\.00 +0\.00", text, re.M), text
    rows = [{"kind": "iteration", "iteration": 0, "passed": 1, "total": 8},
            {"kind": "iteration", "iteration": 1, "passed": 8, "total": 8,
             "candidate_passed": 8, "accepted": True},
            {"kind": "message", "iteration": 1, "role": "lead", "words": 30},
            {"kind": "message", "iteration": 1, "role": "tester", "words": 5}]
    s = {"protocol": "studio", "rows": 4, **Studio.summarise(rows)}
    last = Measured(tick=2, time="2024-05-06T10:00:00", protocol="studio", values=rows[-1])
    text = plain(measures_view("studio", s, last, names))
    assert re.search(r"^round +shared module +candidate", text, re.M), text
    assert re.search(r"^1 +1\.00 +1\.00", text, re.M), text
    assert re.search(r"^role +messages +words", text, re.M), text
    assert re.search(r"^lead +1 +30", text, re.M), text
    assert "latest (tick 2)" in text


def test_group_names_and_speakers():
    assert group_name("debate") == "Debate panel" and group_name(None) == "Group"
    assert group_name("relay_race") == "Relay race group"
    names = {"a": "Ana Ruiz", "b": "Ana Lopez", "c": "Carl Berg"}.get
    assert speakers(["a", "b", "c"], names) == {"a": "Ana Ruiz", "b": "Ana Lopez", "c": "Carl"}
    talk = Conversation(tick=0, time="2024-01-01T09:00:00", participants=["a", "c"], place="x",
                        turns=[Utterance(speaker="a", text="hi")])
    assert who(talk, names) == "Ana Ruiz and Carl Berg"  # two: as ever
    group = talk.model_copy(update={"participants": ["a", "b", "c"]})
    assert who(group, names, "Class") == "Class (3): Ana Ruiz, Ana Lopez and Carl Berg"


# -- snapshots ------------------------------------------------------------------------------
def test_snapshot_main_screen(snap_compare):
    sim = smallville()
    app = AgentsimApp(sim, 144, autostart=False)

    async def two_steps(pilot):
        await pilot.press("n", "n")
        await until(pilot, lambda: sim.clock.tick == 2 and not app.runner.busy)
        await pilot.pause(0.1)

    assert snap_compare(app, terminal_size=SIZE, run_before=two_steps)


def test_snapshot_replay_screen(snap_compare, recorded):
    sim, events, _ = recorded
    assert snap_compare(ReplayApp(events, sim.world, position=8), terminal_size=SIZE)


def test_snapshot_interview_dialog(snap_compare):
    sim = smallville()
    app = AgentsimApp(sim, 144, autostart=False)

    async def ask(pilot):
        await pilot.press("i", *"Who are you?", "enter")
        await until(pilot, lambda: "Drawn from" in str(
            app.screen.query_one("#answer", Static).render()))
        await pilot.pause(0.1)

    assert snap_compare(app, terminal_size=SIZE, run_before=ask)


def test_snapshot_conversations_screen(snap_compare, recorded):
    sim, events, _ = recorded
    talker = next(e for e in events if isinstance(e, Conversation)).participants[0]

    async def open_talks(pilot):
        app = pilot.app
        app.table.select(talker)
        await pilot.press("c")
        await pilot.pause(0.1)

    app = ReplayApp(events, sim.world, position=20)
    assert snap_compare(app, terminal_size=SIZE, run_before=open_talks)


def test_snapshot_map_mode(snap_compare, recorded):
    sim, events, _ = recorded

    async def open_map(pilot):
        await pilot.press("m")
        await pilot.pause(0.1)

    assert snap_compare(ReplayApp(events, sim.world, position=14), terminal_size=SIZE,
                        run_before=open_map)


def test_snapshot_debate(snap_compare):
    sim = debate()
    app = AgentsimApp(sim, 30, autostart=False)

    async def three_steps(pilot):
        await pilot.press("n", "n", "n")
        await until(pilot, lambda: sim.clock.tick == 3 and not app.runner.busy)
        await pilot.pause(0.1)

    assert snap_compare(app, terminal_size=SIZE, run_before=three_steps)
