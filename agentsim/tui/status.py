"""The status bar: sim time and tick, run state and speed, what the LLM has cost, which LLM."""

from __future__ import annotations

from datetime import datetime

from rich.text import Text
from textual.widgets import Static

from agentsim.engine import Simulation
from agentsim.tui.runner import Runner, speed_label

SEP = (" │ ", "dim")


def clock_text(now: datetime, tick: int, end: int | None) -> Text:
    return Text.assemble((f" {now:%a %b %d %H:%M}", "bold"), SEP,
                         f"tick {tick}" + (f"/{end}" if end is not None else ""))


def compact(n: int) -> str:
    """1234 -> '1,234'; 46431 -> '46.4k'; 2_500_000 -> '2.50M'."""
    if n < 10_000:
        return f"{n:,}"
    return f"{n / 1000:.1f}k" if n < 1_000_000 else f"{n / 1_000_000:.2f}M"


def llm_text(sim: Simulation) -> Text:
    """'LLM 26 calls · 11.4k tok · $0.0000 · 0 cached │ offline mind', from what the LLM
    tells (an LLM without `usage` or `describe` shows what it can)."""
    out = Text()
    usage = getattr(getattr(sim.llm, "usage", None), "total", None)
    if usage is not None:
        out.append(f"LLM {usage.calls:,} calls · {compact(usage.tokens)} tok · "
                   f"${usage.cost_usd:.4f} · {usage.cache_hits:,} cached")
    describe = getattr(sim.llm, "describe", None)
    summary = describe().get("summary") if callable(describe) else type(sim.llm).__name__
    if summary:
        if out:
            out.append(*SEP)
        out.append(str(summary), style="italic")
    return out


def live_status(sim: Simulation, runner: Runner) -> Text:
    state = runner.state
    style = ("bold green" if state == "running" else "bold yellow" if state.startswith("paused")
             else "bold red" if state.startswith(("error", "stopped")) else "bold cyan")
    icon = "▶" if state == "running" else "‖" if state.startswith("paused") else "■"
    out = clock_text(sim.clock.now, sim.clock.tick, runner.end_tick)
    out.append(*SEP)
    out.append(f"{icon} {state}", style=style)
    out.append(*SEP)
    out.append(speed_label(runner.speed))
    llm = llm_text(sim)
    if llm:
        out.append(*SEP)
        out.append_text(llm)
    return out


class StatusBar(Static):
    """One line under the header."""
