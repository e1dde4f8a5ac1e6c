"""The TUI, driven by Textual's Pilot: keys step, pause, speed up, interview and quit."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

from textual.widgets import DataTable, Static

from agentsim.session import load
from agentsim.tui.app import AgentsimApp, AskScreen

SMALLVILLE = str(Path(__file__).resolve().parent.parent / "worlds" / "smallville")


def sim_at_eight(**kw):
    sim = load(SMALLVILLE, seed=1, embedder="hash", **kw)
    sim.clock.tick = 12
    return sim


def text(app, selector: str) -> str:
    return str(app.query_one(selector, Static).render())


async def test_step_pause_speed_and_inspect():
    sim = sim_at_eight()
    app = AgentsimApp(sim, 50, autostart=False)
    async with app.run_test(size=(120, 40)) as pilot:
        assert "paused" in text(app, "#status") and sim.clock.tick == 12
        await pilot.press("n")
        for _ in range(50):
            await pilot.pause(0.02)
            if sim.clock.tick == 13:
                break
        assert sim.clock.tick == 13
        table = app.query_one("#residents", DataTable)
        assert table.get_cell("isabella_rodriguez", "resident") == "Isabella Rodriguez"
        assert table.get_cell("isabella_rodriguez", "doing") != ""
        await pilot.press("plus")
        assert app.speed == 20.0
        await pilot.press("minus", "minus")
        assert app.speed == 2.0
        await pilot.press("down")
        assert text(app, "#right").startswith(sim.agents[sorted(sim.agents)[1]].name)
        await pilot.press("space")
        assert "running" in text(app, "#status")
        await pilot.press("space")
    await sim.aclose()


async def test_interview_modal_answers_with_sources():
    sim = sim_at_eight()
    app = AgentsimApp(sim, 50, autostart=False)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("i")
        assert isinstance(app.screen, AskScreen)
        await pilot.press(*"What are you planning?", "enter")
        for _ in range(100):
            await pilot.pause(0.02)
            if "thinking" not in text(app.screen, "#answer") and text(app.screen, "#answer"):
                break
        assert text(app.screen, "#answer").strip()
        await pilot.press("escape")
        assert not isinstance(app.screen, AskScreen)
    await sim.aclose()


async def test_ui_answers_keys_while_the_llm_is_slow(tmp_path):
    sim = sim_at_eight(out=str(tmp_path))
    real = sim.llm

    class Slow:
        def __getattr__(self, name):
            return getattr(real, name)

        async def ask(self, *a, **kw):
            await asyncio.sleep(2)
            return await real.ask(*a, **kw)

    sim.llm = Slow()
    app = AgentsimApp(sim, 50, autostart=True)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause(0.2)  # a tick is now waiting on the slow LLM
        t0 = time.perf_counter()
        await pilot.press("space")
        assert app.paused and "paused" in text(app, "#status")
        assert time.perf_counter() - t0 < 0.5
        await pilot.press("q")
    assert list((tmp_path).glob("*/checkpoints/tick-*"))


async def test_whisper_and_world_event_keys():
    sim = sim_at_eight()
    app = AgentsimApp(sim, 50, autostart=False)
    async with app.run_test(size=(120, 40)) as pilot:
        aid = app.selected()
        before = len(sim.agents[aid].memory)
        await pilot.press("w", *"The cafe is closing early", "enter")
        for _ in range(50):
            await pilot.pause(0.02)
            if len(sim.agents[aid].memory) > before:
                break
        assert sim.agents[aid].memory.search("closing early")[0].source == "whisper"
        await pilot.press("e", *"A fire alarm goes off", "enter")
        for _ in range(50):
            await pilot.pause(0.02)
            if any(e.type == "world_event" for e in sim.events):
                break
        assert any(e.type == "world_event" for e in sim.events)
        assert sim.agents[aid].memory.search("fire alarm")
    await sim.aclose()
