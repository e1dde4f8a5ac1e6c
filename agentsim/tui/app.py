"""Watch, steer and question a live simulation.

    header, status bar (sim time, tick, run state, measured speed and the target, LLM usage,
    which LLM)
    town tree | resident table (or, `m`, the town map) over the event log | inspector
    footer with the keys
    (a world with a protocol: its measures over the town tree, `v` to hide them)

Until the first tick is drawn, a line over the table says what the run is busy with (loading
the embedding model, embedding the memories, writing the first plans: `startup_line`), read
twice a second while the tick is in flight, since the tick publishes its events only at its end.

The simulation runs in an async worker on the app's own loop (`Runner.run`), which posts one
`TickDone` per tick; it starts once the first screen is drawn, so the town shows at once.
Events from the bus are queued as they happen and drawn on `TickDone`, so the widgets read
the simulation only between ticks and never wait on the LLM. A resumed run opens with the
end of its log so far, and what the view tracks (conversations, skills) rebuilt from it.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Awaitable, Callable, Iterable
from typing import Any, ClassVar

from textual.app import SystemCommand
from textual.binding import Binding
from textual.screen import ModalScreen, Screen

from agentsim.events import Conversation, Event
from agentsim.experiment import Simulation
from agentsim.skills.wall import sandbox_notice
from agentsim.tui.dialogs import AskScreen, TextScreen
from agentsim.tui.event_log import describe
from agentsim.tui.inspector import agent_card
from agentsim.tui.layout import TownApp
from agentsim.tui.messages import TickDone
from agentsim.tui.model import Tracker, live_frame, title
from agentsim.tui.runner import SPEEDS, Runner
from agentsim.tui.startup import startup_line
from agentsim.tui.status import live_status

__all__ = ["AgentsimApp", "AskScreen", "TextScreen", "TickDone"]

HISTORY_LINES = 300  # events of a resumed run's past shown in the log

# Actions that act on the simulation: off while a dialog is open.
SIM_ACTIONS = frozenset({"toggle_pause", "step", "faster", "slower", "select", "interview",
                         "whisper", "world_event", "save", "quit_run", "conversations"})


class AgentsimApp(TownApp):
    BINDINGS: ClassVar = [
        Binding("space", "toggle_pause", "Pause", priority=True),  # before the tree's
        Binding("n", "step", "Step"),
        Binding("plus,equals_sign", "faster", "Faster", key_display="+"),
        Binding("minus", "slower", "Slower", key_display="-"),
        Binding("i", "interview", "Interview"),
        Binding("w", "whisper", "Whisper"),
        Binding("e", "world_event", "Event"),
        Binding("c", "conversations", "Talks"),
        Binding("s", "save", "Save"),
        Binding("q", "quit_run", "Quit"),
    ]

    def __init__(self, sim: Simulation, total_ticks: int | None = None, speed: float = 1.0,
                 *, autostart: bool = True):
        tracker = Tracker.for_sim(sim)
        super().__init__(sim.world.places, tracker.name, sim.protocol)
        self.sim = sim
        self.tracker = tracker
        self.runner = Runner(sim, total_ticks, speed=speed, paused=not autostart)
        for e in sim.events:  # a resumed run's past
            tracker.feed(e)
        self.measures.feed(sim.events)
        self._history = self._worth_logging(sim.events)
        self._pending: deque[Event] = deque()
        self._unsubscribe: Callable[[], None] | None = sim.bus.subscribe(self._pending.append)
        self._quitting = False
        self.title = f"agentsim · {sim.world.spec.name}"
        self.sub_title = sim.run_dir.id if sim.run_dir else "in memory (no run directory)"

    # -- what tests and commands read -------------------------------------------------------
    @property
    def paused(self) -> bool:
        return self.runner.paused

    @property
    def speed(self) -> float:
        return self.runner.speed

    def selected(self) -> str:
        """The agent id of the selected resident."""
        return self.table.selected or sorted(self.sim.agents)[0]

    def on_mount(self) -> None:
        super().on_mount()
        self.status_bar.source = lambda width: live_status(self.sim, self.runner, width)
        notice = sandbox_notice(self.sim.skills is not None,
                                self.sim.settings.allow_unsandboxed_skills)
        if notice:
            self.event_log.note(f"Skills: {notice}", style="bold yellow")
        self.event_log.show(self._history)
        self._history = []
        self.measures.redraw()
        self.drain()
        self.refresh_views()
        self.set_interval(0.5, self._while_busy)
        self.call_after_refresh(self._start)

    def _start(self) -> None:
        self.run_worker(self.runner.run(self._tick_done), name="simulation", group="simulation",
                        exclusive=True)
        self.call_after_refresh(self.refresh_banner)  # the first tick is under way by then

    def _worth_logging(self, events: list[Event]) -> list[Event]:
        """The last HISTORY_LINES events of `events` that make a log line."""
        out: list[Event] = []
        for e in reversed(events):
            if len(out) == HISTORY_LINES:
                break
            if describe(e, self.tracker.name, self.sim.world.places, self.group):
                out.append(e)
        return out[::-1]

    def _tick_done(self) -> None:
        self.post_message(TickDone(self.sim.clock.tick, self.runner.finished))

    def on_tick_done(self, message: TickDone) -> None:
        self.drain()
        self.refresh_views()
        self.refresh_banner()
        if message.finished:
            self.refresh_bindings()  # only the end changes a key's state (the footer redraws)
            log = self.event_log
            if self.runner.error is not None:
                log.note(f"the run stopped on an error: {self.runner.error!r}", "bold red")
                self.notify(str(self.runner.error), title="run stopped", severity="error",
                            timeout=10)
            else:
                log.note(message.finished, "bold cyan")
                self.notify(message.finished)

    def _while_busy(self) -> None:
        """While a tick waits on the LLM, keep the LLM counters (and the measured rate, and
        what the first tick is doing) moving."""
        if self.runner.busy:
            self.refresh_status()
            self.refresh_banner()

    def refresh_banner(self) -> None:
        self.show_banner(startup_line(self.sim, self.runner))

    # -- drawing ----------------------------------------------------------------------------
    def drain(self) -> None:
        """Log the events published since the last call."""
        events = list(self._pending)
        self._pending.clear()
        for e in events:
            self.tracker.feed(e)
        self.event_log.show(events)
        self.show_measures(events)

    def refresh_views(self) -> None:
        frame = live_frame(self.sim, self.tracker)
        self.show_residents(list(frame.residents.values()))
        self.refresh_inspector()
        self.refresh_status()

    def refresh_status(self) -> None:
        self.status_bar.refresh()

    def refresh_inspector(self) -> None:
        aid = self.selected()
        t = self.tracker
        self.inspector.show(aid, agent_card(self.sim, aid, t.conversations.get(aid), t.name,
                                            t.skills.get(aid, ())))

    def conversations_so_far(self) -> list[Conversation]:
        return [e for e in self.sim.events if isinstance(e, Conversation)]

    # -- keys -------------------------------------------------------------------------------
    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action in SIM_ACTIONS and isinstance(self.screen, ModalScreen):
            return False
        if action == "step" and (not self.runner.paused or self.runner.finished):
            return None  # shown dimmed
        if action == "faster" and self.runner.speed == SPEEDS[-1]:
            return None
        if action == "slower" and self.runner.speed == SPEEDS[0]:
            return None
        return super().check_action(action, parameters)

    def _changed(self) -> None:
        self.refresh_status()
        self.refresh_bindings()

    def action_toggle_pause(self) -> None:
        if self.runner.finished:
            self.notify(f"The run is over ({self.runner.finished}).")
            return
        self.runner.toggle()
        self._changed()
        if self.runner.paused and self.runner.busy:
            self.notify("Pausing when this tick ends…", timeout=3)

    def action_step(self) -> None:
        self.runner.step()
        self._changed()

    def action_faster(self) -> None:
        self.runner.faster()
        self._changed()

    def action_slower(self) -> None:
        self.runner.slower()
        self._changed()

    def action_interview(self) -> None:
        self._dialog(AskScreen(self.sim, self.selected()))

    def action_whisper(self) -> None:
        aid = self.selected()
        name = self.sim.agents[aid].name
        self._dialog(
            TextScreen(f"Whisper a memory into {name}", "Tom Moreno is moving away next month"),
            lambda text: self.sim.awhisper(aid, text), f"{name} will remember that.",
            f"Whispering to {name}…")

    def action_world_event(self) -> None:
        places = self.sim.world.places
        area = places.area_of(self.sim.agents[self.selected()].location)
        where = title(places.name(area))
        self._dialog(
            TextScreen(f"Something happens at {where}; everyone there notices",
                       "A fire alarm goes off"),
            lambda text: self.sim.ainject(text, place=area), f"Everyone at {where} noticed.",
            f"Telling everyone at {where}…")

    def action_save(self) -> None:
        if self.sim.run_dir is None:
            self.notify("no run directory: start the run with an output folder to save",
                        severity="warning")
            return
        if not self.runner.after_tick(self._checkpoint):
            self.notify("Saving when this tick ends…")

    def action_quit_run(self) -> None:
        if self._quitting:  # asked twice while a tick is in flight: go now
            self._leave()
            return
        self._quitting = True
        self.runner.pause()
        self._changed()
        if not self.runner.after_tick(lambda: self._leave(save=True)):
            self.notify("Quitting when this tick ends (q again: quit now, and a resumed run "
                        "starts from the last checkpoint).", timeout=10)

    async def action_quit(self) -> None:  # ctrl+q and the palette's Quit: the same clean exit
        self.action_quit_run()

    def get_system_commands(self, screen: Screen) -> Iterable[SystemCommand]:
        for command in super().get_system_commands(screen):
            if command.title != "Quit":
                yield command
        yield SystemCommand("Pause / resume", "Pause or resume the simulation (space)",
                            self.action_toggle_pause)
        yield SystemCommand("Step", "Run one tick while paused (n)", self.action_step)
        yield SystemCommand("Faster", "More ticks per second (+)", self.action_faster)
        yield SystemCommand("Slower", "Fewer ticks per second (-)", self.action_slower)
        yield SystemCommand("Interview", "Ask the selected resident a question (i)",
                            self.action_interview)
        yield SystemCommand("Whisper", "Put a memory into the selected resident (w)",
                            self.action_whisper)
        yield SystemCommand("World event", "Something happens where the selected resident is (e)",
                            self.action_world_event)
        yield SystemCommand("Conversations", "Read the selected resident's conversations (c)",
                            self.action_conversations)
        yield SystemCommand("Save checkpoint", "Save the run's state now (s)", self.action_save)
        yield SystemCommand("Quit", "Pause, save a checkpoint and leave (q)",
                            self.action_quit_run)

    # -- helpers ----------------------------------------------------------------------------
    def _dialog(self, screen: ModalScreen, change: Callable[[str], Awaitable[Any]] | None = None,
                done: str = "", doing: str = "") -> None:
        """Hold the run while a dialog is open; apply what it returns, then carry on. `doing`
        is said at once (the change can take seconds: it embeds, it may ask the LLM), `done`
        when it is applied."""
        resume = not self.runner.paused and not self.runner.finished
        self.runner.pause()
        self._changed()

        def closed(text: str | None) -> None:
            if change is not None and text:
                if doing:
                    self.notify(doing, timeout=3)
                self.run_worker(self._intervene(change(text), done, resume), group="intervene")
            elif resume:
                self.runner.resume()
                self._changed()

        self.push_screen(screen, closed)

    async def _intervene(self, change: Awaitable[Any], done: str, resume: bool) -> None:
        try:
            await change
        except Exception as e:
            self.notify(str(e), title="that did not work", severity="error")
        else:
            self.notify(done)
        self.drain()
        self.refresh_views()
        if resume:
            self.runner.resume()
            self._changed()

    def _checkpoint(self) -> None:
        assert self.sim.run_dir is not None
        self.sim.checkpoint()
        self.notify(f"Checkpoint saved at tick {self.sim.clock.tick}.")

    def _leave(self, save: bool = False) -> None:
        if save and self.sim.run_dir is not None:
            self.sim.checkpoint()
        if self._unsubscribe is not None:
            self._unsubscribe()
            self._unsubscribe = None
        self.exit()
