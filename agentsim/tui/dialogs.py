"""Modal dialogs: interview a resident, or type a line (a whisper, a world event)."""

from __future__ import annotations

from typing import ClassVar

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Input, Label, Static

from agentsim.cognition.interview import Answer
from agentsim.engine import Simulation


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

    Nothing changes in the simulation: the interview is not remembered."""

    AUTO_FOCUS = "#question"
    BINDINGS: ClassVar = [Binding("escape", "dismiss", "Close")]

    def __init__(self, sim: Simulation, agent_id: str):
        super().__init__()
        self.sim = sim
        self.agent_id = agent_id

    def compose(self) -> ComposeResult:
        name = self.sim.agents[self.agent_id].name
        with Vertical(classes="dialog"):
            yield Label(f"Interview {name}", classes="dialog-title")
            yield Input(placeholder="Are you going to any parties this week?", id="question")
            with VerticalScroll(id="answer-box"):
                yield Static("", id="answer")
            yield Label("enter: ask   esc: close", classes="dialog-hint")

    @on(Input.Submitted)
    def ask(self, event: Input.Submitted) -> None:
        question = event.value.strip()
        if not question:
            return
        event.input.clear()
        self.query_one("#answer", Static).update(Text(f"…{self.sim.agents[self.agent_id].name}"
                                                      " is thinking", style="italic"))
        self.run_worker(self.answer(question), exclusive=True, group="interview")

    async def answer(self, question: str) -> Answer | None:
        out = self.query_one("#answer", Static)
        try:
            ans = await self.sim.ainterview(self.agent_id, question)
        except Exception as e:  # an unreachable LLM, a budget: say so, keep the app
            out.update(Text(f"The interview failed: {e}", style="bold red"))
            return None
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
