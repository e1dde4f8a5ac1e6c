"""What a protocol is: the rules of interaction a world declares in its `protocol:` section.

A protocol hooks into the engine's tick without forking it. Each tick, after the agents have
stepped (or instead of their day, when `agents_step` is False: a debate panel does not plan
its day), the engine calls `await protocol.tick(stage)`. The protocol decides who speaks and
what the group does this tick (usually through `agentsim.cognition.group_talk.GroupTalk`),
and records its measures as `Measured` events (`stage.measure`), which the run directory
keeps as `measures.csv` and `agentsim report` shows.

A plug-in is a subclass with a `name`, an `Options` model (the section's fields; unknown
fields are errors naming `protocol.<field>`), optionally a `check` of what depends on the world
folder, and `tick`; registered under the entry point group `agentsim.protocols`:

    [project.entry-points."agentsim.protocols"]
    relay = "my_package.relay:Relay"

The honesty bar holds for protocols too: a measure is computed from what the agents said or
did (and the world's answer key, which no agent is shown), never pushed by a prompt or rule."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from pydantic import BaseModel, ConfigDict

from agentsim.cognition.agent import Agent
from agentsim.cognition.context import Context
from agentsim.events import Event, Measured
from agentsim.streams import derive

if TYPE_CHECKING:
    from agentsim.world.loader import WorldDef


class Options(BaseModel):
    """The base of a protocol's options: unknown fields are errors, values are frozen."""

    model_config = ConfigDict(extra="forbid", frozen=True)


@dataclass
class Stage:
    """What a protocol sees and may do in one tick: the agents (by id, in id order), a fresh
    cognition `Context` per call of `context()` (its events are published in call order once
    the tick's protocol step is done), the time, and the protocol's own random seed."""

    agents: Mapping[str, Agent]
    context: Callable[[], Context]
    tick: int
    now: datetime
    seed: int  # derived from the run's seed for this protocol: its draws move no other stream
    events: list[Event]
    # the world's objects and their states (the engine's own, live: a change is a change), and
    # what has happened so far this tick, in order
    objects: dict[str, str] = field(default_factory=dict)
    happened: Sequence[Event] = ()

    def measure(self, protocol: str, **values: Any) -> None:
        """Record one row of the protocol's measures."""
        self.events.append(Measured(tick=self.tick, time=self.now, protocol=protocol,
                                    values=values))


class Protocol:
    """The base of every protocol. A subclass sets `name` and `Options` and implements
    `tick`; it keeps its progress in plain data (`get_state`/`set_state`, for checkpoints)."""

    name: ClassVar[str] = ""
    Options: ClassVar[type[BaseModel]] = Options
    # whether the agents also live their day (perceive, plan, move, talk in pairs) each tick
    agents_step: ClassVar[bool] = True

    def __init__(self, options: Any, world: WorldDef) -> None:
        self.options = options
        self.world = world

    @classmethod
    def check(cls, options: Any, root: Path, names: list[str]) -> list[tuple[str, str]]:
        """Problems with the options that depend on the world folder (a file it names, an
        agent's name), as (field under protocol., message); none by default."""
        return []

    @property
    def finished(self) -> bool:
        """True once the protocol has nothing more to do (ticks after it are idle)."""
        return False

    async def tick(self, stage: Stage) -> None:
        raise NotImplementedError(f"{type(self).__name__} must implement tick()")

    def get_state(self) -> dict[str, Any]:
        return {}

    def set_state(self, state: Mapping[str, Any]) -> None:
        """Restore what `get_state` gave (a protocol without progress has nothing to do)."""


def protocol_seed(run_seed: int, name: str) -> int:
    """A protocol's own random stream, derived from the run's seed and its name."""
    return derive(run_seed, f"protocol:{name}")


def load(world: WorldDef) -> Protocol | None:
    """The protocol the world declares, built from its checked options, or None."""
    from agentsim.world.protocol_section import find_protocol

    section = world.spec.protocol
    if section is None:
        return None
    cls = find_protocol(section.name)
    return cls(world.protocol, world)
