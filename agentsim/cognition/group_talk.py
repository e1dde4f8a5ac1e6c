"""Group conversations: more than two people, taking turns by a rule of the world.

A `GroupTalk` is a conversation of several agents about a topic (a meeting, a class, a debate
round by round). Who speaks when is the world's rule, not the agents' choice:

    round_robin   everyone in the listed order, once per round
    moderator     the moderator opens, then gives the floor to each participant in turn
                  (moderator, a, moderator, b, ...)
    free          everyone once per round, in an order drawn from the run's seed
                  (`agentsim.streams.derive`: the talk's own stream, so no other draw moves)

A talk may be longer than a tick: `advance` speaks at most `turns` turns and the talk goes on
at the next tick from where it stopped (`finished` says when it is over). What a participant
says comes from a `Speaker` (by default the `group_turn` prompt); what the others keep of it is
an observation in their memory, "Tom Moreno said to the group: ..." (the speaker keeps "I said
to the group: ..."). Nothing here scores or steers what is said: a protocol's measures come
from what the agents said."""

from __future__ import annotations

import asyncio
import random
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from agentsim.cognition.agent import Agent
from agentsim.cognition.context import Context
from agentsim.cognition.memorize import Experience, memorize, recall
from agentsim.contracts import GROUP_TURN, GroupTurnVars
from agentsim.events import Conversation, Utterance
from agentsim.memory.record import MemoryKind
from agentsim.streams import derive

TurnTaking = Literal["round_robin", "moderator", "free"]
TURN_TAKING: tuple[str, ...] = ("round_robin", "moderator", "free")


def heard_in_group(speaker: str, text: str) -> str:
    """The observation a listener keeps of one thing said to the group."""
    return f'{speaker} said to the group: "{" ".join(text.split())}"'


@dataclass
class GroupTalk:
    """One group conversation and how far it has got. Plain data: `get_state`/`from_state`
    round-trip it through a checkpoint."""

    topic: str
    participants: list[str]  # agent ids, in the listed order (the moderator not among them)
    place: str
    rounds: int = 1  # how many times each participant has the floor
    turn_taking: TurnTaking = "round_robin"
    moderator: str | None = None  # agent id, for turn_taking "moderator"
    seed: int = 0
    said: list[dict[str, Any]] = field(default_factory=list)  # speaker id, name, text, round
    position: int = 0  # turns spoken so far
    names: dict[str, str] = field(default_factory=dict)  # agent id -> name, filled on speaking

    def __post_init__(self) -> None:
        if self.turn_taking not in TURN_TAKING:
            raise ValueError(f"turn_taking must be one of {', '.join(TURN_TAKING)}")
        if self.turn_taking == "moderator" and self.moderator is None:
            raise ValueError("a moderated talk needs a moderator")
        if len(self.participants) < 2 and self.moderator is None:
            raise ValueError("a group talk needs at least two people")

    # -- the order of speakers --------------------------------------------------------------
    def order(self) -> list[tuple[str, int]]:
        """Every turn of the talk, (speaker id, round), from first to last."""
        turns: list[tuple[str, int]] = []
        for r in range(self.rounds):
            people = list(self.participants)
            if self.turn_taking == "free":
                random.Random(derive(self.seed, f"group talk:{self.topic}:{r}")).shuffle(people)
            for p in people:
                if self.turn_taking == "moderator":
                    turns.append((self.moderator or "", r))
                turns.append((p, r))
        return turns

    @property
    def members(self) -> list[str]:
        """Everyone in the talk: the moderator (if any) and the participants."""
        return ([self.moderator] if self.moderator else []) + list(self.participants)

    @property
    def finished(self) -> bool:
        return self.position >= len(self.order())

    def next_turn(self) -> tuple[str, int] | None:
        """(speaker id, round) of the next turn, or None when the talk is over."""
        turns = self.order()
        return turns[self.position] if self.position < len(turns) else None

    # -- speaking ---------------------------------------------------------------------------
    async def advance(self, agents: Mapping[str, Agent], ctx: Context, turns: int,
                      speaker: Speaker | None = None) -> list[dict[str, Any]]:
        """Speak up to `turns` turns (fewer if the talk ends); every member remembers what was
        said. The lines spoken are logged as one `Conversation` event (participants and speakers
        by agent id, as in a conversation of two). Returns the lines spoken now,
        {speaker (id), name, text, round}."""
        speak = speaker or group_turn
        self.names.update({m: agents[m].name for m in self.members})
        spoken: list[dict[str, Any]] = []
        while len(spoken) < turns and (nxt := self.next_turn()) is not None:
            who, rnd = nxt
            text = " ".join((await speak(agents[who], self, rnd, ctx)).split())
            line = {"speaker": who, "name": agents[who].name, "text": text, "round": rnd}
            self.said.append(line)
            spoken.append(line)
            self.position += 1
        if spoken:  # the log (and the TUI) shows what the group said this tick
            ctx.emit(Conversation, participants=list(self.members), place=self.place,
                     turns=[Utterance(speaker=s["speaker"], text=s["text"])
                            for s in spoken])
        await asyncio.gather(*(_remember(agents[m], spoken, ctx) for m in self.members))
        return spoken

    def heard(self) -> list[dict[str, str]]:
        """What was said so far, as prompt lines {speaker (name), text}."""
        return [{"speaker": s["name"], "text": s["text"]} for s in self.said]

    # -- state ------------------------------------------------------------------------------
    def get_state(self) -> dict[str, Any]:
        return {"topic": self.topic, "participants": list(self.participants),
                "place": self.place, "rounds": self.rounds, "turn_taking": self.turn_taking,
                "moderator": self.moderator, "seed": self.seed,
                "said": [dict(s) for s in self.said], "position": self.position,
                "names": dict(self.names)}

    @classmethod
    def from_state(cls, state: Mapping[str, Any]) -> GroupTalk:
        return cls(**dict(state))


# What a participant says at its turn: (agent, talk, round, ctx) -> text.
Speaker = Callable[[Agent, GroupTalk, int, Context], Awaitable[str]]


async def group_turn(agent: Agent, talk: GroupTalk, rnd: int, ctx: Context) -> str:
    """The default speaker: the `group_turn` prompt, with what was said so far and what the
    agent recalls about the topic."""
    found = await recall(agent, talk.topic, ctx, k=5)
    role = "moderator" if agent.id == talk.moderator else "participant"
    out = await GROUP_TURN.ask(ctx.llm, GroupTurnVars(
        persona=agent.persona_vars(ctx.world_name), now=f"{ctx.now:%A %H:%M}",
        topic=talk.topic, participants=[talk.names[m] for m in talk.members], role=role,
        heard=talk.heard(), memories=[getattr(r, "record", r).text for r in found]),
        agent=agent.id)
    return out.text


async def _remember(me: Agent, spoken: list[dict[str, Any]], ctx: Context) -> None:
    """One observation per line spoken, in the order said: what others said to the group, and
    what I said myself."""
    lines = [Experience(MemoryKind.observation,
                        f'I said to the group: "{s["text"]}"' if s["speaker"] == me.id
                        else heard_in_group(s["name"], s["text"]),
                        about=() if s["speaker"] == me.id else (s["name"],),
                        source=None if s["speaker"] == me.id else s["name"])
             for s in spoken if s["text"]]
    await memorize(me, lines, ctx)
