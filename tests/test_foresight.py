"""Foresight (issue 17): the next tick's requests go out while a tick's conversations are
under way, and that changes no event. No wall time is measured: the fakes below hold or
reorder calls, so what is asserted is what overlapped, and that the log is the same."""

from __future__ import annotations

import asyncio
import hashlib
from pathlib import Path

import pytest

import agentsim.engine as engine_module
from agentsim.experiment import Simulation
from agentsim.llm.factory import build_llm
from agentsim.llm.foresight import REAL, Foresight
from agentsim.llm.offline import OfflineMind

SMALLVILLE = Path(__file__).resolve().parent.parent / "worlds" / "smallville"
MORNING = 12  # 08:00: everyone is up, and residents meet and talk
STEP_CALLS = {"importance", "react", "decompose"}


class Server:
    """What the engine sees of a model behind a server (it waits, and answers requests side
    by side): the fakes' answers are the offline mind's, but they arrive as a server's would,
    so the engine foresees (it never does on the offline mind itself: `ahead.waits_beside`)."""

    name, model, waits, concurrency = "server", "fake", True, None


class Fake:
    """The offline mind behind an `ask` that a test can hold or slow down."""

    def __init__(self) -> None:
        self.mind = OfflineMind()
        self.edges = build_llm("offline")  # usage, describe, budget, state, close
        self.backends = {"smart": Server()}
        self.asked: list[str] = []

    def __getattr__(self, name):
        return getattr(self.edges, name)

    async def wait(self, template_id: str, variables) -> None:
        """Nothing by default; a test's fake holds calls here."""

    async def ask(self, template_id, variables, *, schema=None, tier="smart", agent=None):
        self.asked.append(template_id)
        await self.wait(template_id, variables)
        data = self.mind.answer(template_id, variables, 0)
        return schema.model_validate(data) if schema else data


class Scrambled(Fake):
    """Answers after 0-7 turns of the event loop, by a hash of the request: calls finish in
    an order that has nothing to do with the order they were asked in."""

    async def wait(self, template_id, variables):
        digest = hashlib.sha256(f"{template_id}{sorted(variables.items())}".encode()).digest()
        for _ in range(digest[0] % 8):
            await asyncio.sleep(0)


class TalkHeld(Fake):
    """Holds each conversation turn until `gate` (conftest's InFlightGate) has had its `n`
    step requests (importance, react, decompose) in flight together, each made after the
    tick's resolution (`resolved`: set by the test's wrapper of the engine's `resolve`, cleared
    when the tick ends): only a request of the *next* tick can be, since a tick's own steps
    are over before it resolves. `guard` seconds without that let the turns go anyway (the
    gate's `check()` then fails), so an engine that does not look ahead ends instead of
    hanging."""

    def __init__(self, gate, guard: float = 60.0) -> None:
        super().__init__()
        self.gate = gate
        self.guard = guard
        self.resolved = False
        self.open = asyncio.Event()

    async def wait(self, template_id, variables):
        if template_id == "converse_turn":
            try:
                await asyncio.wait_for(self.open.wait(), self.guard)
            except TimeoutError:
                self.open.set()
        elif template_id in STEP_CALLS and self.resolved:
            await self.gate.hold()
            self.open.set()


def _log(sim: Simulation) -> list[str]:
    return [e.to_json() for e in sim.events]


def _morning(llm, *, ticks: int, ahead: bool) -> Simulation:
    """Smallville from 08:00 for `ticks` ticks: with `ahead` as a run goes (the next tick
    foreseen), else tick by tick (`Simulation.step`: nothing foreseen)."""
    sim = Simulation.load(str(SMALLVILLE), seed=1, embedder="hash", llm=llm)
    sim.clock.tick = MORNING
    if ahead:
        sim.run(ticks=ticks)
    else:
        for _ in range(ticks):
            sim.step()
    return sim


def test_the_next_ticks_requests_are_in_flight_while_a_tick_talks(in_flight_gate, monkeypatch):
    """Five of the next tick's step requests in flight together, made once the tick is
    resolved, while its talks wait for their turns (without foresight there is none): the
    residents who do not talk are stepped ahead beside the talks."""
    gate = in_flight_gate(5)
    fake = TalkHeld(gate)
    real = engine_module.resolve

    def resolve(*args, **kwargs):
        done = real(*args, **kwargs)
        fake.resolved = True
        return done

    monkeypatch.setattr(engine_module, "resolve", resolve)
    sim = Simulation.load(str(SMALLVILLE), seed=1, embedder="hash", llm=fake)
    sim.bus.subscribe(lambda e: setattr(fake, "resolved", False)
                      if e.type == "tick_ended" else None)
    sim.clock.tick = MORNING
    sim.run(ticks=3)
    assert any(e.type == "conversation" for e in sim.events)
    gate.check()
    sim.close()


@pytest.mark.parametrize("llm", [Fake, Scrambled])
def test_foresight_changes_no_event_and_no_request(llm):
    """The same events and the same requests, counted by template, with the next tick
    foreseen (and answers coming back in a scrambled order) as without it."""
    plain, ahead = Fake(), llm()
    a = _morning(plain, ticks=8, ahead=False)
    b = _morning(ahead, ticks=8, ahead=True)
    assert _log(b) == _log(a)
    assert sorted(ahead.asked) == sorted(plain.asked)  # nothing foreseen in vain
    assert sum(e.type == "conversation" for e in a.events) >= 2
    assert a.foreseen == 0 and b.foreseen > 50  # (steps of 7 ticks, 25 residents)
    a.close()
    b.close()


async def test_a_foreseen_request_is_sent_once_and_taken_once():
    calls: list[str] = []

    class Echo:
        async def ask(self, template_id, variables, *, schema=None, tier="smart", agent=None):
            calls.append(template_id)
            await asyncio.sleep(0)
            return f"{template_id}:{variables['n']}"

    f = Foresight(Echo())  # type: ignore[arg-type]
    side = object()
    ahead = [f.asker(side).ask("t", {"n": n}) for n in (1, 1, 2)]
    assert await asyncio.gather(*ahead) == ["t:1", "t:1", "t:2"]
    real = f.asker(REAL)
    # the two foreseen t:1 are taken by two real asks; a third is sent anew
    assert [await real.ask("t", {"n": 1}) for _ in range(3)] == ["t:1"] * 3
    assert calls == ["t", "t", "t", "t"] and f.reused == 2
    await f.drop()  # t:2, never asked for: dropped


async def test_forget_cancels_only_what_the_tick_did_not_take():
    gate = asyncio.Event()

    class Held:
        async def ask(self, template_id, variables, *, schema=None, tier="smart", agent=None):
            await gate.wait()
            return template_id

    f = Foresight(Held())  # type: ignore[arg-type]
    f.start(f.asker(object()).ask("taken", {}))
    f.start(f.asker(object()).ask("dropped", {}))
    await asyncio.sleep(0)
    taken = asyncio.ensure_future(f.asker(REAL).ask("taken", {}))
    await asyncio.sleep(0)
    f.forget()
    gate.set()
    assert await taken == "taken" and f.reused == 1 and f.pending == 0


def test_a_run_with_a_budget_foresees_nothing():
    """The budget is checked between ticks: a request sent ahead would count before its tick,
    so a run with a budget steps one tick at a time (and stops where a resumed run would)."""
    sim = Simulation.load(str(SMALLVILLE), seed=1, embedder="hash",
                          llm=build_llm("offline", budget=(10_000, None, None)))
    sim.clock.tick = MORNING
    sim.run(ticks=3)
    assert sim.foreseen == 0
    sim.close()


class OneAtATime(Fake):
    """A model that answers one request at a time on this machine (an in-process model,
    `--llm local`): a request sent ahead would stand in the way of the tick's own."""

    def __init__(self) -> None:
        super().__init__()
        self.backends = {"smart": type("Local", (Server,), {"concurrency": 1})()}


@pytest.mark.parametrize("llm", [lambda: build_llm("offline"), OneAtATime])
def test_nothing_is_foreseen_where_it_would_only_add_work(llm):
    """The offline mind answers on this CPU at once, and an in-process model one request at
    a time: there is no waiting for foresight to fill, so a run foresees nothing."""
    sim = _morning(llm(), ticks=3, ahead=True)
    assert any(e.type == "conversation" for e in sim.events)
    assert sim.foreseen == 0
    sim.close()


def test_the_next_ticks_talks_are_foreseen_and_taken():
    """The next tick's conversations are guessed from the intents its foreseen steps come to
    and run ahead on copies (`agentsim.ahead`): the ticks take their turns and remembering,
    and no guess was wrong (only certain talks are guessed)."""
    sim = _morning(Scrambled(), ticks=8, ahead=True)
    taken = sim.tally.taken
    assert taken["converse_turn"] > 0 and taken["conversation_memory"] > 0
    assert not sim.tally.wasted
    sim.close()


def test_a_guess_copies_the_talkers_and_whom_they_ask_for_not_the_town(monkeypatch):
    """A guess is tried as each intent comes in: it copies (and resolves) the residents who
    ask for a talk and those they ask for, never every resident of the town."""
    from agentsim import ahead

    real_guess, real_copy = ahead.Ahead.guess, ahead._copy
    seen: list[tuple[int, int]] = []  # (residents copied, residents asked) per guess
    copied: list[object] = []

    def counting_copy(x):
        copied.append(x)
        return real_copy(x)

    def guess(self):
        known = self._known()
        asked = {k for k, i in known.items() if i.talk_to is not None}
        asked |= {known[k].talk_to for k in asked}
        copied.clear()
        real_guess(self)
        seen.append((sum(isinstance(x, ahead.Agent) for x in copied), len(asked)))

    monkeypatch.setattr(ahead, "_copy", counting_copy)
    monkeypatch.setattr(ahead.Ahead, "guess", guess)
    sim = _morning(Scrambled(), ticks=8, ahead=True)
    assert seen and all(n <= asked for n, asked in seen)
    assert max(n for n, _ in seen) < len(sim.agents)
    assert sim.tally.taken["converse_turn"] > 0 and not sim.tally.wasted
    sim.close()


class SlowTalks(Fake):
    """Talks take many turns of the event loop, steps none: a tick's talks last while the
    next tick's steps are foreseen, so its talks are guessed before the tick ends."""

    async def wait(self, template_id, variables):
        if template_id in ("converse_turn", "conversation_memory"):
            for _ in range(40):
                await asyncio.sleep(0)


NO_SKILLS = {"skills": False}
WHISPER = "The bakery on Main Street burned down last night."


async def _whispered_morning(sim: Simulation, *, ahead: bool, ticks: int,
                             plan: dict[int, list[str]]) -> None:
    """Tick by tick from 08:00. With `ahead`, after the first tick that guessed talks for
    the next one, their talkers are whispered to before it runs (an intervention the guess
    could not know of), and `plan` records when and whom; without, `plan` is followed."""
    for n in range(ticks):
        guessed = sim._ahead.guessed if sim._ahead is not None else frozenset()
        if ahead and guessed and not plan:
            plan[sim.clock.tick] = sorted({x for pair in guessed for x in pair})
        for a in plan.get(sim.clock.tick, []):
            await sim.awhisper(a, WHISPER)
        await sim.astep(ahead=ahead and n + 1 < ticks)


def test_a_wrong_guess_wastes_requests_and_changes_no_event():
    """Talks guessed for the next tick, then their talkers whispered to before it runs: the
    talks' prompts change, so the guessed requests are sent in vain; the events are those
    of a run without foresight that whispers the same at the same tick."""
    plan: dict[int, list[str]] = {}
    # (no skills: a step that may run one is not taken for an intent before it has run)
    ahead = Simulation.load(str(SMALLVILLE), seed=1, embedder="hash", llm=SlowTalks(),
                            settings=NO_SKILLS)
    ahead.clock.tick = MORNING
    ahead._sync(_whispered_morning(ahead, ahead=True, ticks=8, plan=plan))
    assert plan
    plain = Simulation.load(str(SMALLVILLE), seed=1, embedder="hash", llm=Fake(),
                            settings=NO_SKILLS)
    plain.clock.tick = MORNING
    plain._sync(_whispered_morning(plain, ahead=False, ticks=8, plan=plan))
    assert sum(e.type == "whispered" for e in plain.events) == len(next(iter(plan.values())))
    assert _log(ahead) == _log(plain)
    assert ahead.tally.wasted["converse_turn"] > 0  # the guess was wrong, and not taken
    ahead.close()
    plain.close()
