"""A meeting: one group conversation about a topic, with the world's turn-taking rule.

    protocol:
      name: meeting
      topic: the harvest festival
      turn_taking: moderator       round_robin | moderator | free
      moderator: Isabella Rodriguez   (for turn_taking: moderator)
      participants: []             names; everyone else in the world when empty
      rounds: 2                    times each participant has the floor
      turns_per_tick: 4            a longer meeting goes on over the next ticks

The agents live their day as usual; the meeting is held from the first tick until it is over.
Its measure is who spoke, and how much: kind=turn rows with the agent, the round and the
words said (`measures.csv`); `summarise` counts turns and words per agent."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import Field

from agentsim.cognition.group_talk import GroupTalk, TurnTaking
from agentsim.protocols.base import Options, Protocol, Stage


class MeetingOptions(Options):
    topic: str = Field(min_length=1)
    turn_taking: TurnTaking = "round_robin"
    moderator: str | None = None
    participants: list[str] = Field(default_factory=list)
    rounds: int = Field(1, ge=1, le=20)
    turns_per_tick: int = Field(4, ge=1, le=50)


class Meeting(Protocol):
    name = "meeting"
    Options = MeetingOptions

    def __init__(self, options: MeetingOptions, world: Any) -> None:
        super().__init__(options, world)
        ids = {p.name: aid for aid, p in world.personas.items()}
        self.moderator = ids.get(options.moderator) if options.moderator else None
        wanted = set(options.participants)
        self.participants = [aid for aid, p in world.personas.items()
                             if (not wanted or p.name in wanted) and aid != self.moderator]
        self.talk: GroupTalk | None = None
        self.done = False

    @classmethod
    def check(cls, options: MeetingOptions, root: Path, names: list[str]) -> list[tuple[str, str]]:
        problems = [("participants", f"no agent named {n!r} in this world")
                    for n in options.participants if n not in names]
        if options.moderator is not None and options.moderator not in names:
            problems.append(("moderator", f"no agent named {options.moderator!r} in this world"))
        if options.turn_taking == "moderator" and options.moderator is None:
            problems.append(("moderator", "turn_taking: moderator needs a moderator"))
        others = [n for n in (options.participants or names) if n != options.moderator]
        if len(others) < 2:
            problems.append(("participants", "a meeting needs at least 2 participants"))
        return problems

    @property
    def finished(self) -> bool:
        return self.done

    async def tick(self, stage: Stage) -> None:
        if self.talk is None:
            where = stage.agents[self.moderator or self.participants[0]].location
            self.talk = GroupTalk(topic=self.options.topic, participants=self.participants,
                                  place=where, rounds=self.options.rounds,
                                  turn_taking=self.options.turn_taking,
                                  moderator=self.moderator, seed=stage.seed)
        spoken = await self.talk.advance(stage.agents, stage.context(),
                                         turns=self.options.turns_per_tick)
        for line in spoken:
            stage.measure(self.name, kind="turn", agent=line["speaker"], round=line["round"],
                          words=len(line["text"].split()))
        self.done = self.talk.finished

    def get_state(self) -> dict[str, Any]:
        return {"done": self.done, "talk": self.talk.get_state() if self.talk else None}

    def set_state(self, state: Any) -> None:
        self.done = state["done"]
        self.talk = GroupTalk.from_state(state["talk"]) if state["talk"] else None

    @staticmethod
    def summarise(rows: list[dict[str, Any]]) -> dict[str, Any]:
        turns: dict[str, int] = {}
        words: dict[str, int] = {}
        for r in rows:
            turns[r["agent"]] = turns.get(r["agent"], 0) + 1
            words[r["agent"]] = words.get(r["agent"], 0) + int(r["words"])
        return {"turns": dict(sorted(turns.items())), "words": dict(sorted(words.items()))}
