"""Foreseeing the next tick while this one talks (issue 17): its steps, then its talks.

A tick waits on its longest chain of model calls in a row, and a tick with a conversation
waits for the talk itself (its turns, then remembering) after every intent is resolved. So
once a tick T is resolved the engine foresees T+1 (`Ahead`), on throwaway copies:

- each resident's T+1 step (`cognition.step.foresee`): a resident who is not talking at T
  at once, a talker once its talk is over (before that, only the calls its talk cannot
  change: the importance of what it will see, its next action), one whose deferred work (a
  plan's critique) may change its plan once that is applied;
- T+1's *talks* (`guess`), as the intents come in: those of the foreseen steps, then those
  of T+1's real steps (`stepping`). A resolution is run on copies (the stepped copies,
  copies of the other residents and of the objects, the resolution RNG's state, T+1's
  clock) with the intents known, and a talk it pairs is run on the copies, with a copy of
  the relationships, once it is *certain*: the residents whose intent is still to come and
  who could come to one to talk (`cognition.step.could_talk`) are none in its area, and
  every order of the seeded shuffle they can make pairs it (`resolve.pair_in_order`).

Every model request a copy makes goes through a `Foresight`: it is sent at once, and T+1
takes an answer only for the very same request, so no event depends on whether, or how
well, T+1 was foreseen. A guess can still be wrong (an intervention between the ticks, a
foreseen step that is not what the tick's step does): then its requests are sent in vain,
never taken (`Foresight.wasted`, and `Tally` over a run). A foreseen step that a skill or a
reading may still change is not taken for an intent at all.

Foresight runs only where requests wait on a server that answers several at once (not on
the offline mind, not on an in-process model such as `--llm local`), with the residents in
this process, no protocol and no budget (`can_foresee`).
"""

from __future__ import annotations

import copy
import pickle
import random
from collections import ChainMap, Counter
from collections.abc import Awaitable, Callable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

from agentsim.cognition.agent import Agent
from agentsim.cognition.context import Context
from agentsim.cognition.converse import converse
from agentsim.cognition.perceive import WorldView
from agentsim.cognition.react import Opening
from agentsim.cognition.step import Intent, could_talk, foresee, is_bedtime
from agentsim.llm.base import LLM
from agentsim.llm.foresight import Asker, Foresight
from agentsim.llm.wrappers.layer import waits
from agentsim.resolve import pair_in_order, resolve

if TYPE_CHECKING:
    from agentsim.engine import Engine


@dataclass
class Tally:
    """What became of the requests foreseen over a run, by template: taken by the ticks,
    or never taken (a guess that was wrong, a tick that did not come)."""

    taken: Counter[str] = field(default_factory=Counter)
    wasted: Counter[str] = field(default_factory=Counter)

    def add(self, foresight: Foresight) -> None:
        self.taken.update(foresight.taken)
        self.wasted.update(foresight.wasted)


def can_foresee(engine: Engine) -> bool:
    """Foresight needs the residents here (not on shards) and no protocol, whose turn may
    change them after the tick's own work; and no budget: the spend is checked between
    ticks, and a request sent ahead would count before its tick (a stop could then come
    a tick earlier than in a run that foresees nothing, such as a resumed one)."""
    budget = getattr(engine.llm, "budget", None)
    limited = budget is not None and any(
        getattr(budget, k, None) is not None for k in ("calls", "tokens", "usd"))
    return engine.shards is None and engine.protocol is None and engine.agents_step \
        and not limited and waits_beside(engine.llm)


def waits_beside(llm: LLM) -> bool:
    """Whether requests sent ahead would wait beside the tick's own, not in their way: every
    backend waits on something else (a server; not the offline mind, which answers on this
    CPU at once, so foresight would only add work) and answers more than one request at a
    time (not an in-process model such as `--llm local`, `concurrency = 1`: a request sent
    ahead would hold up the turns the tick waits on)."""
    backends = list(getattr(llm, "backends", {}).values())
    return all(waits(b) and (getattr(b, "concurrency", None) or 2) > 1 for b in backends)


def _copy(x: Any) -> Any:
    """A throwaway copy by pickling: several times faster than `copy.deepcopy` for a
    resident's memory (its datetimes and texts)."""
    return pickle.loads(pickle.dumps(x, protocol=pickle.HIGHEST_PROTOCOL))


class _Copies(Mapping[str, Agent]):
    """The residents as a guess resolves them: each copied (`copy_of`) when first read. A
    resolution reads only the residents with an intent and those they ask for, so a guess
    copies those, not the whole town (a guess is tried as each intent comes in)."""

    def __init__(self, residents: Mapping[str, Agent], copy_of: Callable[[str], Agent]):
        self._residents, self._copy_of = residents, copy_of
        self._made: dict[str, Agent] = {}

    def __getitem__(self, aid: str) -> Agent:
        x = self._made.get(aid)
        if x is None:
            if aid not in self._residents:
                raise KeyError(aid)
            x = self._made[aid] = self._copy_of(aid)
        return x

    def __iter__(self) -> Iterator[str]:
        return iter(self._residents)

    def __len__(self) -> int:
        return len(self._residents)


class Ahead:
    """The next tick of `engine`, foreseen: what its steps and its talks will ask.

    `steps` foresees the residents' steps, `talk` runs one of this tick's conversations and
    then foresees both talkers' steps, `settled` what the tick's deferred work changed. The
    next tick asks through `asker()`, hands over its steps' intents as they come (`stepping`:
    its talks are guessed from them too), says when it has resolved (`resolved`: no guess is
    worth starting after that) and `drop()`s the rest."""

    def __init__(self, engine: Engine):
        self.engine = engine
        self.foresight = Foresight(engine.llm)
        self._clock = copy.copy(engine.clock)  # the next tick's
        self._clock.advance()
        self._twins: dict[str, Agent] = {}  # residents as the next tick's steps leave them
        self._intents: dict[str, Intent] = {}  # what those steps came to
        self._talks: set[tuple[str, str]] = set()  # the talks guessed so far
        self._real: set[str] = set()  # residents whose real step has come to its intent
        self._round = 0  # foresees from an older view are not taken for the guess
        self._resolved = False
        self._view: WorldView | None = None  # the world the steps are foreseen from
        self._later: set[str] = set()  # residents foreseen once the tick has settled
        self._partners: dict[str, str] = {}  # this tick's talkers, each to the other
        self._may: set[str] = set()  # who could come to an intent to talk (`could_talk`)

    def asker(self) -> Asker:
        return self.foresight.asker()

    def _context(self) -> Context:
        """The next tick's context, asking as a side of its own."""
        return replace(self.engine._context(self.foresight.asker(object())),
                       now=self._clock.now, tick=self._clock.tick)

    def steps(self, agents: list[Agent], view: WorldView, pairs: list[tuple[Agent, Agent]],
              later: set[str]) -> None:
        """Foresee the residents' next steps from `view` (the world as the next tick will
        see it once resolved): whole for those not in this tick's `pairs`, for a talker the
        part its talk cannot change (`talk` foresees the rest), none yet for those in
        `later`, whose deferred work (a plan's critique) may still change their plan
        (`settled`)."""
        self._view, self._later = view, later
        self._partners = {x.id: y.id for a, b in pairs for x, y in ((a, b), (b, a))}
        self._may_talk_from(view)
        for a in agents:
            if a.id not in later:
                self.step(a, view, whole=a.id not in self._partners)

    def settled(self, agents: list[Agent], view: WorldView) -> None:
        """The tick's deferred work is applied: those who deferred it are foreseen now, and
        if a revised plan shows in what the others see, they are foreseen again from `view`
        (their requests that did not change are not sent twice: `Foresight` pairs them)."""
        if not self._later:
            return
        again = view != self._view
        if again:  # (what was foreseen from the other view is no ground for a guess)
            self._round += 1
            self._twins.clear()
            self._intents.clear()
            self._may_talk_from(view)
        self._view = view
        for a in agents:
            if a.id in self._later or again:
                self.step(a, view, whole=True)
        self._later = set()

    def step(self, agent: Agent, view: WorldView, *, whole: bool) -> None:
        """Start the next tick's step of `agent` on a copy (`cognition.step.foresee`).

        The relationships are read where they are, not copied: a step only reads its own
        resident's edges, which only that resident's own talk changes, and that is over by
        now (or it is foreseen without its reaction)."""
        twin, round_ = _copy(agent), self._round

        def decided(intent: Intent) -> None:
            if round_ == self._round and agent.id not in self._real:
                self._decided(twin, intent)

        self.foresight.start(foresee(twin, view, self.engine.relationships, self._context(),
                                     whole=whole, decided=decided))

    async def talk(self, a: Agent, b: Agent, ctx: Context, opening: Opening | None) -> None:
        """One of this tick's conversations; then both talkers' next step foreseen (but
        for one whose deferred work is still to come: `settled`)."""
        await converse(a, b, self.engine.relationships, ctx, opening)
        for x in (a, b):
            if x.id not in self._later and self._view is not None:
                self.step(x, self._view, whole=True)

    async def stepping(self, agent: Agent, work: Awaitable[Intent]) -> Intent:
        """The foreseen tick's real step of `agent`: its intent, and the resident as it left
        it, replace what was foreseen of them for the guess of the tick's talks. (The
        resident itself: nothing changes it again before the tick resolves, when guessing
        stops, and `guess` works on copies.)"""
        intent = await work
        if not self._resolved:
            self._real.add(agent.id)
            self._decided(agent, intent)
        return intent

    def resolved(self) -> None:
        """The foreseen tick has paired its talkers itself: nothing more to guess."""
        self._resolved = True

    # -- guessing the talks -----------------------------------------------------------------
    def _decided(self, twin: Agent, intent: Intent) -> None:
        self._twins[twin.id], self._intents[twin.id] = twin, intent
        if not self._resolved and self._sure_talkers():
            self.guess()

    def _known(self) -> dict[str, Intent]:
        """The intents known (a resident whose deferred work is still to come has none)."""
        return {k: i for k, i in self._intents.items() if k not in self._later}

    def _may_talk_from(self, view: WorldView) -> None:
        """Who could come to an intent to talk next tick, read now, before any of the next
        tick's steps has changed what its resident has seen (`cognition.step.could_talk`)."""
        ctx = self._context()
        self._may = {k for k, x in self.engine.agents.items()
                     if could_talk(x, view, ctx, besides=self._partners.get(k))}

    def _may_talk(self, known: Mapping[str, Intent]) -> list[Agent]:
        """The residents whose intent is not known and could still be to talk: those a
        guess has to wait for."""
        return [x for k, x in self.engine.agents.items() if k in self._may and k not in known]

    def _in_area(self, aid: str, waiting: list[Agent]) -> bool:
        """Whether someone `waiting` is in `aid`'s area: only there could it ask for one of
        that area's residents (a talk is between two in the same area)."""
        places = self.engine.world.places
        area = places.area_of(self.engine.agents[aid].location)
        return any(places.area_of(x.location) == area for x in waiting)

    def _sure_talkers(self) -> bool:
        """Whether some known intent asks for a talk not guessed yet that may be certain
        (a look before `guess` copies the residents and resolves)."""
        known = self._known()
        asks = [k for k, i in known.items() if i.talk_to is not None
                and i.talk_to in known and (k, i.talk_to) not in self._talks]
        if not asks:
            return False
        waiting = self._may_talk(known)
        return any(not self._in_area(k, waiting) for k in asks)

    def _certain(self, known: Mapping[str, Intent], agents: Mapping[str, Agent],
                 waiting: list[Agent], most: int = 10) -> set[tuple[str, str]]:
        """The talks the tick pairs whatever the residents `waiting` (at most `most`) come
        to. The tick pairs the talkers in a seeded shuffle (`resolve`), whose order depends
        on how many talk and where each stands among them; those `waiting` pair only in
        their own areas, so a talk in an area with none of them is certain if every order
        they can make pairs it (`resolve.pair_in_order` on `agents`, not yet resolved)."""
        talkers = sorted(k for k, i in known.items() if i.talk_to is not None)
        if len(waiting) > most:
            return set()
        state = self.engine.rng.getstate()
        sure: set[tuple[str, str]] | None = None
        for chosen in range(1 << len(waiting)):
            also = [x.id for n, x in enumerate(waiting) if chosen >> n & 1]
            order = sorted(talkers + also)
            rng = random.Random()
            rng.setstate(state)
            rng.shuffle(order)
            pairs = {(a.id, b.id) for a, b in pair_in_order(
                [known[k] for k in order if k in known], agents, self.engine.world.places)}
            sure = pairs if sure is None else sure & pairs
        return {p for p in sure or set() if not self._in_area(p[0], waiting)}

    def guess(self) -> None:
        """The talks of the foreseen tick that are certain from the intents known now,
        resolved on copies and run on them for the requests they make. `resolve` changes
        what it is handed: copies only (of the stepped residents where known)."""
        e = self.engine
        known = self._known()

        def copy_of(aid: str) -> Agent:
            x = _copy(self._twins.get(aid, e.agents[aid]))
            if aid not in known:  # (whose step is still to come: awake as it leaves it)
                x.awake = not is_bedtime(x, self._clock.now)
            return x

        agents = _Copies(e.agents, copy_of)
        waiting = self._may_talk(known)
        sure = self._certain(known, agents, waiting) if waiting else None
        rng = random.Random()
        rng.setstate(e.rng.getstate())  # (nothing draws from it between two resolutions)
        # the intents of the talkers and of those they ask for: the same pairs (the pairing
        # reads the talkers' only), and those two as the tick leaves them; the objects a
        # layer over the world's, for what their starts change (never the world's own)
        asked = {k for k, i in known.items() if i.talk_to is not None}
        asked |= {known[k].talk_to for k in asked}
        done = resolve([i for k, i in known.items() if k in asked], agents,
                       ChainMap({}, e.objects), e.world.places, self._clock, rng)
        relationships: Any = None
        for a, b in done.pairs:
            talk = (a.id, b.id)
            if talk in self._talks or a.id not in self._twins or b.id not in self._twins \
                    or (sure is not None and talk not in sure):
                continue
            self._talks.add(talk)
            relationships = relationships or _copy(e.relationships)
            self.foresight.start(converse(a, b, relationships, self._context(),
                                          known[a.id].opening))

    @property
    def guessed(self) -> frozenset[tuple[str, str]]:
        """The talks guessed so far (who starts, who answers)."""
        return frozenset(self._talks)

    async def drop(self) -> None:
        await self.foresight.drop()

    def forget(self) -> None:
        self.foresight.forget()
