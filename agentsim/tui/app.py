"""Watch a simulation live: residents, an event log, an inspector; pause, step, speed, ask.

The simulation runs in an async worker on the app's loop and posts one `TickDone` message per
tick; the widgets only read the simulation when that message arrives, so the UI never waits
on the LLM.
"""

from __future__ import annotations

import asyncio
from typing import ClassVar

from textual import on, work
from textual.app import App, ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.message import Message
from textual.screen import ModalScreen
from textual.widgets import DataTable, Footer, Header, Input, RichLog, Static

from agentsim.engine import Simulation
from agentsim.events import (
    Conversation,
    Event,
    Learned,
    Moved,
    PlanMade,
    Reflected,
    RunStopped,
    WorldEvent,
)

SPEEDS = [0.5, 1.0, 2.0, 5.0, 20.0, 0.0]  # ticks per second; 0 = as fast as possible


class TickDone(Message):
    pass


class AskScreen(ModalScreen[None]):
    """Interview a resident: type a question, read the answer and what it rests on."""

    BINDINGS: ClassVar = [Binding("escape", "dismiss", "Close")]

    def __init__(self, sim: Simulation, agent_id: str):
        super().__init__()
        self.sim = sim
        self.agent_id = agent_id

    def compose(self) -> ComposeResult:
        name = self.sim.agents[self.agent_id].name
        with Vertical(id="ask"):
            yield Static(f"Ask {name} (Enter to ask, Esc to close)")
            yield Input(placeholder="Are you going to any parties this week?", id="question")
            yield Static("", id="answer")

    @on(Input.Submitted)
    def ask(self, event: Input.Submitted) -> None:
        self.query_one("#answer", Static).update("…thinking")
        self.answer(event.value)

    @work(exclusive=True)
    async def answer(self, question: str) -> None:
        ans = await self.sim.ainterview(self.agent_id, question)
        lines = [ans.answer, ""] + [
            f"  [{m.record.id}] {m.record.text}" + (f" (source: {m.record.source})"
                                                   if m.record.source else "")
            for m in ans.memories
        ]
        self.query_one("#answer", Static).update("\n".join(lines))


class TextScreen(ModalScreen[str | None]):
    """One line of text from the user (a whisper, a world event); Esc cancels."""

    BINDINGS: ClassVar = [Binding("escape", "cancel", "Cancel")]

    def __init__(self, prompt: str, placeholder: str):
        super().__init__()
        self.prompt = prompt
        self.placeholder = placeholder

    def compose(self) -> ComposeResult:
        with Vertical(id="ask"):
            yield Static(self.prompt)
            yield Input(placeholder=self.placeholder)

    @on(Input.Submitted)
    def submit(self, event: Input.Submitted) -> None:
        self.dismiss(event.value.strip() or None)

    def action_cancel(self) -> None:
        self.dismiss(None)


class AgentsimApp(App[None]):
    CSS = """
    #left { width: 2fr; }
    #right { width: 1fr; border-left: solid $primary; padding: 0 1; }
    #residents { height: 1fr; }
    #log { height: 1fr; border-top: solid $primary; }
    #status { height: 1; background: $boost; }
    AskScreen { align: center middle; }
    #ask { width: 90; height: auto; max-height: 30; border: thick $primary; background: $surface;
           padding: 1 2; }
    """
    BINDINGS: ClassVar = [
        Binding("space", "toggle_pause", "Pause/resume"),
        Binding("n", "step", "Step"),
        Binding("plus,equals_sign", "faster", "Faster"),
        Binding("minus", "slower", "Slower"),
        Binding("i", "interview", "Interview"),
        Binding("w", "whisper", "Whisper"),
        Binding("e", "inject", "World event"),
        Binding("s", "save", "Checkpoint"),
        Binding("q", "quit_run", "Quit"),
    ]

    def __init__(self, sim: Simulation, total_ticks: int | None = None, *,
                 autostart: bool = True, speed: float = 5.0):
        super().__init__()
        self.sim = sim
        self.end_tick = sim.clock.tick + total_ticks if total_ticks is not None else None
        self.paused = not autostart
        self.speed = speed
        self.pending: list[Event] = []
        self._wake = asyncio.Event()
        self._stepping = False
        self._unsubscribe = sim.bus.subscribe(self.pending.append)

    # -- layout -----------------------------------------------------------------------------
    def compose(self) -> ComposeResult:
        yield Header(show_clock=False)
        yield Static("", id="status")
        with Horizontal():
            with Vertical(id="left"):
                yield DataTable(id="residents", cursor_type="row", zebra_stripes=True)
                yield RichLog(id="log", wrap=True, markup=False, max_lines=2000)
            yield Static("", id="right")
        yield Footer()

    def on_mount(self) -> None:
        self.title = f"agentsim: {self.sim.world.spec.name}"
        table = self.query_one("#residents", DataTable)
        for column in ("resident", "where", "doing"):
            table.add_column(column, key=column)
        for aid in sorted(self.sim.agents):
            table.add_row("", "", "", key=aid)
        self.refresh_views()
        self.run_simulation()

    # -- the simulation worker --------------------------------------------------------------
    @work(exclusive=True, group="sim")
    async def run_simulation(self) -> None:
        while self.end_tick is None or self.sim.clock.tick < self.end_tick:
            if self.paused and not self._stepping:
                self._wake.clear()
                await self._wake.wait()
                continue
            self._stepping = False
            budget = getattr(self.sim.llm, "budget_exceeded", None)
            reason = budget() if budget else None
            if reason:
                self.sim.stop(reason)
                break
            await self.sim.astep()
            self.post_message(TickDone())
            await asyncio.sleep(1 / self.speed if self.speed else 0)
        self.post_message(TickDone())

    def on_tick_done(self, _: TickDone) -> None:
        self.refresh_views()

    # -- actions ----------------------------------------------------------------------------
    def action_toggle_pause(self) -> None:
        self.paused = not self.paused
        self._wake.set()
        self.refresh_status()

    def action_step(self) -> None:
        if self.paused:
            self._stepping = True
            self._wake.set()

    def action_faster(self) -> None:
        i = SPEEDS.index(self.speed) if self.speed in SPEEDS else 1
        self.speed = SPEEDS[min(i + 1, len(SPEEDS) - 1)]
        self.refresh_status()

    def action_slower(self) -> None:
        i = SPEEDS.index(self.speed) if self.speed in SPEEDS else 1
        self.speed = SPEEDS[max(i - 1, 0)]
        self.refresh_status()

    def action_interview(self) -> None:
        self.paused = True
        self.refresh_status()
        self.push_screen(AskScreen(self.sim, self.selected()))

    def action_whisper(self) -> None:
        aid = self.selected()

        def done(text: str | None) -> None:
            if text:
                self.intervene(self.sim.awhisper(aid, text))

        self.push_screen(TextScreen(f"Whisper a memory into {self.sim.agents[aid].name}",
                                    "Tom Moreno is moving away next month"), done)

    def action_inject(self) -> None:
        place = self.sim.agents[self.selected()].location
        area = self.sim.world.places.area_of(place)

        def done(text: str | None) -> None:
            if text:
                self.intervene(self.sim.ainject(text, place=area))

        self.push_screen(TextScreen(f"Something happens at {self.sim.world.places.name(area)}",
                                    "A fire alarm goes off"), done)

    @work(group="intervene")
    async def intervene(self, change) -> None:
        await change
        self.refresh_views()

    def action_save(self) -> None:
        if self.sim.run_dir is None:
            self.notify("no run directory: nothing to save to", severity="warning")
            return
        self.sim.checkpoint()
        self.notify(f"checkpoint saved at tick {self.sim.clock.tick}")

    def action_quit_run(self) -> None:
        self.paused = True
        if self.sim.run_dir is not None:
            self.sim.checkpoint()
        self._unsubscribe()
        self.exit()

    @on(DataTable.RowHighlighted)
    def _selected(self, _: DataTable.RowHighlighted) -> None:
        self.refresh_inspector()

    # -- views ------------------------------------------------------------------------------
    def selected(self) -> str:
        table = self.query_one("#residents", DataTable)
        key, _ = table.coordinate_to_cell_key(table.cursor_coordinate)
        return str(key.value)

    def refresh_views(self) -> None:
        places = self.sim.world.places
        table = self.query_one("#residents", DataTable)
        for aid, a in self.sim.agents.items():
            doing = a.action.activity if a.action and a.awake else "sleeping"
            table.update_cell(aid, "resident", a.name)
            area = places.area_of(a.location)
            where = places.name(area) if area == a.location else \
                f"{places.name(area)}: {places.name(a.location)}"
            table.update_cell(aid, "where", where[:32])
            table.update_cell(aid, "doing", doing)
        log = self.query_one("#log", RichLog)
        for e in self.pending:
            line = describe(e, self.sim)
            if line:
                log.write(f"{e.time:%a %H:%M}  {line}")
        self.pending.clear()
        self.refresh_status()
        self.refresh_inspector()

    def refresh_status(self) -> None:
        sim = self.sim
        usage = getattr(getattr(sim.llm, "usage", None), "total", None)
        llm = getattr(sim.llm, "describe", lambda: {"summary": "custom"})()["summary"]
        state = "paused" if self.paused else "running"
        if self.end_tick is not None and sim.clock.tick >= self.end_tick:
            state = "finished"
        speed = "max" if self.speed == 0 else f"{self.speed:g}/s"
        calls = (f" | LLM {usage.calls} calls, {usage.tokens:,} tokens, ${usage.cost_usd:.4f}, "
                 f"{usage.cache_hits} cached" if usage else "")
        self.query_one("#status", Static).update(
            f" {sim.clock.now:%a %b %d %H:%M} | tick {sim.clock.tick} | {state} | speed {speed}"
            f"{calls} | {llm}")

    def refresh_inspector(self) -> None:
        a = self.sim.agents[self.selected()]
        p = a.persona
        lines = [f"{a.name}, {p.age}: {p.occupation}", ", ".join(p.innate), "", "Today:"]
        now = self.sim.clock.now
        for item in a.day_plan:
            mark = "▶" if item.start <= now < item.end else " "
            lines.append(f"{mark} {item.start:%H:%M} {item.activity}")
        lines += ["", "Recent memories:"]
        lines += [f"  {r.text}" for r in a.memory.recent(8)]
        rel = self.sim.relationships.graph
        if a.name in rel:
            lines += ["", "Relationships:"]
            for _, other, d in sorted(rel.out_edges(a.name, data=True),
                                      key=lambda t: -t[2]["closeness"])[:8]:
                lines.append(f"  {other}: {d['relation']} ({d['closeness']:.2f})")
        self.query_one("#right", Static).update("\n".join(lines))


def describe(e: Event, sim: Simulation) -> str | None:
    """One log line for the events worth watching."""
    def name(aid: str) -> str:
        return sim.agents[aid].name if aid in sim.agents else aid

    places = sim.world.places
    if isinstance(e, Conversation):
        turns = " / ".join(f"{name(t.speaker).split()[0]}: {t.text}" for t in e.turns)
        return f"{name(e.participants[0])} and {name(e.participants[1])} talk: {turns}"
    if isinstance(e, Learned):
        return f"{name(e.agent)} hears of the {e.title} from {name(e.source)}"
    if isinstance(e, Reflected):
        return f"{name(e.agent)} reflects: {e.insight}"
    if isinstance(e, PlanMade) and e.level in ("day", "revised"):
        items = [i.split(" @ ")[0] for i in e.items[:6]]
        return f"{name(e.agent)} plans ({e.level}): " + "; ".join(items)
    if isinstance(e, Moved) and e.dst == e.destination:
        return f"{name(e.agent)} arrives at {places.describe(e.dst)}"
    if isinstance(e, WorldEvent | RunStopped):
        return getattr(e, "text", None) or getattr(e, "reason", None)
    return None
