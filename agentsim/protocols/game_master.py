"""The game master (Concordia's idea): an LLM that decides what an action causes in the world
when the world's own rules cannot.

    protocol:
      name: game_master
      max_per_tick: 2        decisions a tick at most (drawn from the protocol's seed)
      memory: true           the people in the area remember the outcome

The world's rules say what moving does and what using an object for an action does (its
state). Every other action started this tick (not sleeping, with no object, the actor at its
place) is one the rules cannot decide: the game master is asked (`game_master` prompt) what it
causes, and may change one object at that place. The change is applied only if the world
allows it (the object is at that place, the state one of its states): the rules stay the
rules. Each decision is a `game_master_decided` event (with `applied` and, if not, why not),
an applied change an `object_changed` event, and those in the area keep the outcome as an
observation (source "game master"). Decisions replay like every LLM answer (the answers are
recorded; `--replay` serves them), and the events are the log a replay reads. The agents live
their day as usual. The measure is what it decided: kind=decision rows (agent, applied, and
origin: who decided, the model or the offline mind as a fallback)."""

from __future__ import annotations

import random
from typing import Any

from pydantic import Field

from agentsim.cognition.memorize import Experience, memorize
from agentsim.contracts import GAME_MASTER, GameMasterVars
from agentsim.events import ActionStarted, GameMasterDecided, ObjectChanged
from agentsim.memory.record import MemoryKind
from agentsim.protocols.base import Options, Protocol, Stage
from agentsim.protocols.measures import answer_origins, truth
from agentsim.streams import derive

RECENT = 5  # outcomes at a place the game master is reminded of


class GameMasterOptions(Options):
    max_per_tick: int = Field(2, ge=1, le=50)
    memory: bool = True


class GameMaster(Protocol):
    name = "game_master"
    Options = GameMasterOptions

    def __init__(self, options: GameMasterOptions, world: Any) -> None:
        super().__init__(options, world)
        self.recent: dict[str, list[str]] = {}  # area id -> last outcomes

    async def tick(self, stage: Stage) -> None:
        started = [e for e in stage.happened if isinstance(e, ActionStarted)
                   and e.activity != "sleeping"]
        open_ = [e for e in started if _undecided(stage, e)]
        if len(open_) > self.options.max_per_tick:
            rng = random.Random(derive(stage.seed, f"tick {stage.tick}"))
            picked = set(rng.sample(range(len(open_)), self.options.max_per_tick))
            open_ = [e for i, e in enumerate(open_) if i in picked]
        for e in open_:
            await self._decide(stage, e)

    async def _decide(self, stage: Stage, e: ActionStarted) -> None:
        places, ctx = self.world.places, stage.context()
        area = places.area_of(e.place)
        here = places.objects_in(e.place)
        spec = self.world.spec
        got = await GAME_MASTER.answer(ctx.llm, GameMasterVars(
            world=f"{spec.name}: {spec.description}".strip().rstrip(":"),
            now=f"{stage.now:%A %H:%M}", place_name=places.describe(e.place),
            actor=stage.agents[e.agent].name, activity=e.activity,
            objects=[{"id": o.id, "name": o.name, "state": stage.objects.get(o.id, o.state),
                      "states": list(o.states)} for o in here],
            recent=list(self.recent.get(area, []))), agent=None)
        out = got.value
        applied, why_not = False, None
        if out.object is not None or out.state is not None:
            obj = next((o for o in here if o.id == out.object), None)
            if obj is None:
                why_not = f"no object {out.object!r} at {e.place}"
            elif out.state is None or (obj.states and out.state not in obj.states):
                why_not = f"{out.state!r} is not a state of {obj.id}"
            elif stage.objects.get(obj.id) == out.state:
                why_not = f"{obj.id} is {out.state} already"
            else:
                applied = True
        outcome = " ".join(out.outcome.split())
        ctx.emit(GameMasterDecided, agent=e.agent, activity=e.activity, place=e.place,
                 outcome=outcome, object=out.object, state=out.state, applied=applied,
                 why_not=why_not)
        if applied and out.object is not None and out.state is not None:
            old = stage.objects[out.object]
            stage.objects[out.object] = out.state
            ctx.emit(ObjectChanged, object=out.object, place=e.place, old=old, new=out.state,
                     agent=e.agent)
        self.recent[area] = [*self.recent.get(area, []), outcome][-RECENT:]
        stage.measure(self.name, kind="decision", agent=e.agent, applied=applied,
                      origin=got.origin)
        if self.options.memory:
            who = [a for a in stage.agents.values() if places.area_of(a.location) == area]
            for a in who:
                await memorize(a, [Experience(MemoryKind.observation, outcome,
                                              source="game master")], ctx)

    def get_state(self) -> dict[str, Any]:
        return {"recent": {k: list(v) for k, v in sorted(self.recent.items())}}

    def set_state(self, state: Any) -> None:
        self.recent = {k: list(v) for k, v in state["recent"].items()}

    @staticmethod
    def summarise(rows: list[dict[str, Any]]) -> dict[str, Any]:
        return {"decisions": len(rows),
                "applied": sum(truth(r["applied"]) for r in rows), **answer_origins(rows)}


def _undecided(stage: Stage, e: ActionStarted) -> bool:
    """An action whose effect no rule decides: the actor is at its place and uses no object."""
    agent = stage.agents.get(e.agent)
    action = getattr(agent, "action", None)
    return (agent is not None and action is not None and action.object is None
            and action.skill is None and agent.location == e.place)
