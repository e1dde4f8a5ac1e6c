"""Modal dialogs: interview a resident, read the conversations so far, or type a line (a whisper,
a world event)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import ClassVar

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Input, Label, Static

from agentsim.cognition.interview import Answer
from agentsim.events import Conversation
from agentsim.experiment import Simulation
from agentsim.tui.groups import speaker, who
from agentsim.tui.model import where
from agentsim.world.places import PlaceGraph

SHOWN_CONVERSATIONS = 60


def answer_text(ans: Answer) -> Text:
    """The answer, then each memory it drew on with its source and why it came up, then the
    document passages it cites."""
    out = Text.assemble(("Q: ", "bold dim"), (ans.question, "dim"), "\n",
                        ("A: ", "bold"), (ans.answer, "bold"), "\n")
    out.append("\nDrawn from:\n" if ans.memories else "\n(no particular memory)\n",
               style="underline")
    for m in ans.memories:
        out.append("• ")
        out.append(m.record.text)
        if m.record.source:
            out.append(f"  [source: {m.record.source}]", style="italic cyan")
        out.append(f"\n  {m.explain()}\n", style="dim")
    if ans.citations:
        out.append("\nCited:\n", style="underline")
    for c in ans.citations:
        out.append("• ")
        out.append(f"{c.title}", style="italic")
        out.append(f"  [{c.chunk}]\n", style="italic cyan")
        if c.quote:
            out.append(f'  "{c.quote}"\n', style="dim")
    out.rstrip()
    return out


class AskScreen(ModalScreen[None]):
    """Interview a resident: type a question, read the answer and the memories behind it.

    The placeholder is a hint, not a question (an empty Enter says to type one); what was
    asked stays in view, with a thinking line until the answer comes. Nothing changes in the
    simulation: the interview is not remembered."""

    AUTO_FOCUS = "#question"
    BINDINGS: ClassVar = [Binding("escape", "dismiss", "Close")]
    HINT = "Type a question, e.g. Are you going to any parties this week?"

    def __init__(self, sim: Simulation, agent_id: str):
        super().__init__()
        self.sim = sim
        self.agent_id = agent_id
        self.pending: str | None = None  # the question being answered

    @property
    def name_(self) -> str:
        return self.sim.agents[self.agent_id].name

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Label(f"Interview {self.name_}", classes="dialog-title")
            yield Input(placeholder=self.HINT, id="question")
            yield Static("", id="asked")
            with VerticalScroll(id="answer-box"):
                yield Static(Text("Nothing asked yet.", style="dim italic"), id="answer")
            yield Label("enter: ask   esc: close", classes="dialog-hint")

    @on(Input.Submitted)
    def ask(self, event: Input.Submitted) -> None:
        question = event.value.strip()
        answer = self.query_one("#answer", Static)
        if not question:
            answer.update(Text("Type a question first, then press Enter.", style="bold yellow"))
            return
        event.input.clear()
        self.pending = question
        asked = self.query_one("#asked", Static)
        asked.display = True
        asked.update(Text.assemble(("You asked: ", "bold"), (question, "bold cyan")))
        answer.update(Text(f"{self.name_} is thinking…", style="italic yellow"))
        self.run_worker(self.answer(question), exclusive=True, group="interview")

    async def answer(self, question: str) -> Answer | None:
        out = self.query_one("#answer", Static)
        try:
            ans = await self.sim.ainterview(self.agent_id, question)
        except Exception as e:  # an unreachable LLM, a budget: say so, keep the app
            out.update(Text(f"The interview failed: {e}", style="bold red"))
            return None
        finally:
            if self.pending == question:  # not a newer question's
                self.pending = None
        out.update(answer_text(ans))
        return ans


class TextScreen(ModalScreen[str | None]):
    """One line of text from the user; Esc (or an empty line) cancels."""

    AUTO_FOCUS = "Input"
    BINDINGS: ClassVar = [Binding("escape", "cancel", "Cancel")]

    def __init__(self, prompt: str, placeholder: str):
        super().__init__()
        self.prompt = prompt
        self.placeholder = placeholder

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Label(self.prompt, classes="dialog-title")
            yield Input(placeholder=self.placeholder)
            yield Label("enter: done   esc: cancel", classes="dialog-hint")

    @on(Input.Submitted)
    def submit(self, event: Input.Submitted) -> None:
        self.dismiss(event.value.strip() or None)

    def action_cancel(self) -> None:
        self.dismiss(None)


def conversations_text(talks: Sequence[Conversation], name: Callable[[str], str],
                       places: PlaceGraph, group: str = "Group") -> Text:
    """Conversations, newest first: when, where, who (a group by what it is, how many and
    everyone in it), and every turn with its speaker."""
    out = Text()
    for c in list(reversed(talks))[:SHOWN_CONVERSATIONS]:
        out.append(f"{c.time:%a %H:%M}  ", style="dim")
        out.append(who(c, name, group), style="bold green")
        out.append(" at ")
        out.append(where(places, c.place))
        out.append("\n")
        for t in c.turns:
            out.append(f"  {speaker(c, t.speaker, name)}: ", style="bold")
            out.append(f"{t.text}\n")
        out.append("\n")
    if not talks:
        out.append("(no conversations yet)", style="italic dim")
    if len(talks) > SHOWN_CONVERSATIONS:
        out.append(f"… and {len(talks) - SHOWN_CONVERSATIONS} earlier", style="dim")
    out.rstrip()
    return out


class ConversationsScreen(ModalScreen[None]):
    """The conversations so far: the selected resident's, or everyone's (a)."""

    BINDINGS: ClassVar = [Binding("escape,c", "dismiss", "Close"),
                          Binding("a", "toggle_everyone", "Everyone / one resident")]

    def __init__(self, talks: Sequence[Conversation], agent_id: str,
                 name: Callable[[str], str], places: PlaceGraph, group: str = "Group"):
        super().__init__()
        self.talks, self.agent_id, self.name_of, self.places = talks, agent_id, name, places
        self.group = group  # what a conversation of more than two is called
        self.everyone = False

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Label("", id="talks-title", classes="dialog-title")
            with VerticalScroll(id="talks-box"):
                yield Static("", id="talks")
            yield Label("a: everyone / one resident   esc: close", classes="dialog-hint")

    def on_mount(self) -> None:
        self.show()

    def shown(self) -> list[Conversation]:
        if self.everyone:
            return list(self.talks)
        return [c for c in self.talks if self.agent_id in c.participants]

    def show(self) -> None:
        talks = self.shown()
        whose = "Everyone's" if self.everyone else f"{self.name_of(self.agent_id)}'s"
        self.query_one("#talks-title", Label).update(f"{whose} conversations ({len(talks)})")
        self.query_one("#talks", Static).update(conversations_text(talks, self.name_of,
                                                                   self.places, self.group))

    def action_toggle_everyone(self) -> None:
        self.everyone = not self.everyone
        self.show()
