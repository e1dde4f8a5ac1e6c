"""The status bar: sim time and tick, run state, the measured speed and the target, what the
LLM has cost, which LLM.

The line is drawn for the bar's width: when the full line does not fit, a shorter one
(weekday and time, no unit words) keeps every figure in view."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from rich.text import Text
from textual.widgets import Static

from agentsim.experiment import Simulation
from agentsim.llm.accounting import Counter
from agentsim.tui.pace import rate_label, sim_per_minute
from agentsim.tui.runner import Runner, speed_label

SEP = (" │ ", "dim")


def clock_text(now: datetime, tick: int, end: int | None, short: bool = False) -> Text:
    when = f" {now:%a %H:%M}" if short else f" {now:%a %b %d %H:%M}"
    return Text.assemble((when, "bold"), SEP,
                         f"tick {tick}" + (f"/{end}" if end is not None else ""))


def compact(n: int) -> str:
    """1234 -> '1,234'; 46431 -> '46.4k'; 2_500_000 -> '2.50M'."""
    if n < 10_000:
        return f"{n:,}"
    return f"{n / 1000:.1f}k" if n < 1_000_000 else f"{n / 1_000_000:.2f}M"


def llm_text(sim: Simulation, short: bool = False, tiny: bool = False) -> Text:
    """'LLM 26 calls · 11.4k tok · $0.0000 · 0 cached │ offline mind', from what the LLM
    tells (`usage` and `describe`); `short`:
    'LLM 26 · 11.4k tok · $0.0000 · 0 cached │ offline mind'. With a model configured the
    model's share of its answers follows the calls ('LLM 126 calls · 92% model · ...'), in
    yellow with the count once the offline mind answered any as a fallback, in red under
    the run's minimum share. `tiny`: as short, less a cost and a cache count that are 0."""
    short = short or tiny
    out = Text()
    usage = sim.llm.usage.total
    calls = compact(usage.calls) if short else f"{usage.calls:,} calls"
    out.append(f"LLM {calls} · ")
    out.append_text(share_text(sim, usage, short))
    figures = [f"{compact(usage.tokens)} tok"]
    if usage.cost_usd or not tiny:
        figures.append(f"${usage.cost_usd:.4f}")
    if usage.cache_hits or not tiny:
        figures.append(f"{compact(usage.cache_hits)} cached")
    out.append(" · ".join(figures))
    summary = sim.llm.describe().get("summary")
    if summary:
        if out:
            out.append(*SEP)
        out.append(str(summary), style="italic")
    return out


def share_text(sim: Simulation, usage: Counter, short: bool = False) -> Text:
    """'92% model · ' (none on the offline mind); with fallbacks '92% model (3 fb) · ' in
    yellow, in red under the run's minimum share."""
    from agentsim.llm.accounting import share_text as pct
    from agentsim.options import min_share

    share = usage.model_share
    if share is None:
        return Text()
    fell = usage.origins.get("fallback", 0)
    style = "" if not fell else "bold red" if share < min_share(sim.options) else "bold yellow"
    label = f"{pct(share)} model"
    if fell:
        label += f" ({compact(fell)} fb)" if short else f" ({compact(fell)} fallbacks)"
    return Text.assemble((label, style), " · ")


STATE_WIDTH = 40  # a long error or stop reason is clipped here (the log has all of it)


def speed_text(runner: Runner, tick_minutes: int, tier: int = 0) -> str:
    """The measured speed and the target: the target alone while paused ('2 tick/s'); running,
    '0.12 tick/s · 36 sim-min/min (target 2 tick/s)', the target shortened to '(target 2)' from
    `tier` 1 on; 'measuring… (target 2 tick/s)' until a tick has ended."""
    target = speed_label(runner.speed)
    if runner.paused or runner.finished:
        return target
    if tier:
        target = target.removesuffix(" tick/s")
    rate = runner.pace.rate()
    if rate is None:
        return f"measuring… (target {target})"
    return f"{rate_label(rate)} · {sim_per_minute(rate, tick_minutes)} (target {target})"


def live_status(sim: Simulation, runner: Runner, width: int | None = None) -> Text:
    """The live view's line; given `width`, shorter forms while the full one is wider: the
    short clock and LLM figures (tier 1), then no zero cost or cache count (tier 2), then the
    run state by its icon alone (tier 3)."""
    state = runner.state
    style = ("bold green" if state == "running" else "bold yellow" if state.startswith("paus")
             else "bold red" if state.startswith(("error", "stopped")) else "bold cyan")
    icon = "▶" if state == "running" else "‖" if state.startswith("paus") else "■"
    if len(state) > STATE_WIDTH:
        state = state[:STATE_WIDTH - 1] + "…"
    for tier in (0, 1, 2, 3):
        short = tier > 0
        out = clock_text(sim.clock.now, sim.clock.tick, runner.end_tick, short)
        out.append(*SEP)
        out.append(icon if tier == 3 and state == "running" else f"{icon} {state}", style=style)
        out.append(*SEP)
        out.append(speed_text(runner, sim.world.spec.tick_minutes, tier))
        llm = llm_text(sim, short, tiny=tier >= 2)
        if llm:
            out.append(*SEP)
            out.append_text(llm)
        if width is None or out.cell_len <= width:
            break
    return out


class StatusBar(Static):
    """One line under the header. Given a `source` (width -> line), the line is asked for
    whenever the bar is drawn, so it fits the bar after a resize; else, what `update` set."""

    source: Callable[[int], Text] | None = None

    def render(self):
        if self.source is not None:
            return self.source(self.size.width)
        return super().render()
