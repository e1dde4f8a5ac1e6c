"""The world files a user writes, as pydantic models.

A world is a folder:

    world.yaml          name, start time, tick length, the place tree, paths between areas
    agents/*.yaml       one persona each (the file stem is the agent's id)
    knowledge/          documents (Markdown or text) places and objects may hold, optional

Every model forbids unknown fields so a typo is an error naming the field, not a
silently ignored setting.
"""

from __future__ import annotations

import re
from datetime import datetime, time
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from agentsim.world.protocol_section import ProtocolSection

_ID = re.compile(r"^[a-z0-9][a-z0-9_]*$")


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _check_id(value: str) -> str:
    if not _ID.match(value):
        raise ValueError(f"{value!r} is not a valid id (lowercase letters, digits and _)")
    return value


class PlaceKind(StrEnum):
    town = "town"
    area = "area"
    room = "room"


class ObjectSpec(Strict):
    """Something in a place that has a state, e.g. a coffee machine that is 'brewing'."""

    id: str
    name: str
    state: str = "idle"
    states: list[str] = Field(default_factory=list, description="allowed states; empty means any")
    documents: list[str] = Field(
        default_factory=list,
        description="documents an agent reads when using it, e.g. knowledge/gazette.md",
    )

    _id = field_validator("id")(_check_id)

    @model_validator(mode="after")
    def _state_allowed(self) -> ObjectSpec:
        if self.states and self.state not in self.states:
            raise ValueError(f"state {self.state!r} is not one of {self.states}")
        return self


class PlaceSpec(Strict):
    """A node of the place tree: town > area > room. Objects sit in any place."""

    id: str
    name: str
    kind: PlaceKind
    description: str = ""
    position: tuple[int, int] | None = Field(None, description="map cell (x, y) for an area")
    minutes_from_parent: int = Field(1, ge=0, description="walking time to the parent place")
    objects: list[ObjectSpec] = Field(default_factory=list)
    children: list[PlaceSpec] = Field(default_factory=list)
    documents: list[str] = Field(
        default_factory=list,
        description="documents posted here (a notice board, a menu), read when reading here",
    )

    _id = field_validator("id")(_check_id)


class PathSpec(Strict):
    """A walkable path between two places, with its travel time in minutes."""

    a: str
    b: str
    minutes: int = Field(ge=0)


class WorldSpec(Strict):
    name: str
    start: datetime
    tick_minutes: int = Field(10, ge=1, le=60)
    description: str = ""
    places: PlaceSpec
    paths: list[PathSpec] = Field(default_factory=list)
    reflection_threshold: int = Field(150, ge=1)
    retrieval_weights: tuple[float, float, float] = Field(
        (1.0, 1.0, 1.0), description="recency, importance, relevance"
    )
    # the world's rules of interaction (a debate, a meeting), a plug-in: see protocol_section
    protocol: ProtocolSection | None = None

    @field_validator("places")
    @classmethod
    def _root_is_town(cls, places: PlaceSpec) -> PlaceSpec:
        if places.kind is not PlaceKind.town:
            raise ValueError(f"the root place must be of kind 'town', not {places.kind.value!r}")
        return places


class ScheduledEvent(Strict):
    """Something that happens at a place and time, which agents can learn of and attend."""

    title: str
    place: str
    start: datetime
    end: datetime
    host: str | None = None
    # What the host does, as in "Sam Moore is running in the election": hosting, organising...
    host_role: str = Field(default="hosting", min_length=1, max_length=40)

    @model_validator(mode="after")
    def _ordered(self) -> ScheduledEvent:
        if self.end <= self.start:
            raise ValueError("end must be after start")
        return self


class SeedMemory(Strict):
    text: str
    importance: int | None = Field(None, ge=1, le=10)
    event: ScheduledEvent | None = None


class RoutineItem(Strict):
    """One line of a persona's usual day: from `start`, do `activity` at `place`."""

    start: time
    activity: str
    place: str


class Relationship(Strict):
    name: str
    relation: str
    closeness: float = Field(0.5, ge=0.0, le=1.0)


class PersonaSpec(Strict):
    name: str
    age: int = Field(ge=0, le=130)
    innate: list[str] = Field(min_length=1, description="innate traits, e.g. friendly, curious")
    background: str
    lifestyle: str
    occupation: str
    home: str = Field(description="id of the place the agent sleeps in")
    wake: time = time(7, 0)
    sleep: time = time(22, 0)
    daily_routine: list[RoutineItem] = Field(min_length=1)
    relationships: list[Relationship] = Field(default_factory=list)
    memories: list[SeedMemory] = Field(default_factory=list)
    goals: list[str] = Field(default_factory=list, description="longer-term goals, e.g. to learn")

    @field_validator("daily_routine")
    @classmethod
    def _sorted(cls, items: list[RoutineItem]) -> list[RoutineItem]:
        times = [i.start for i in items]
        if times != sorted(times):
            raise ValueError("items must be in time order")
        return items


PlaceSpec.model_rebuild()
