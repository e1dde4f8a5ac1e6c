"""The game master's contract (Concordia's idea): what does an action cause in the world, when
the world's own rules cannot say?

    game_master   an action with no rule for its effect -> {outcome, object, state}

The world's rules handle moving and using an object to put it in a state; the game master is
asked about the other actions (a resident "argues with the mayor", "paints a mural"): it
narrates what follows, and may change the state of one object at that place. The engine
applies only a change the world allows (the object is there, the state is one of its states),
and logs every decision (`agentsim.protocols.game_master`)."""

from __future__ import annotations

from pydantic import Field

from agentsim.contracts.answer import Out
from agentsim.contracts.contract import Contract, Vars

# id, name, state, states: an object at the place, as the game master sees it
Thing = dict


class GameMasterVars(Vars):
    world: str  # the world's name and description
    now: str
    place_name: str
    actor: str
    activity: str
    objects: list[Thing]  # objects at the place, with their states
    recent: list[str]  # the game master's last outcomes at this place, oldest first


class GameMasterDecision(Out):
    outcome: str = Field(min_length=1, max_length=400, description="what the action causes, "
                         "one or two sentences, as a narrator", examples=[
                             "The mural draws a small crowd."])
    object: str | None = Field(None, description="id of one object here whose state changes, "
                               "or null", examples=[None])
    state: str | None = Field(None, description="its new state (one of its states), or null",
                              examples=[None])
    _words = ("outcome",)


GAME_MASTER: Contract[GameMasterVars, GameMasterDecision] = Contract(
    "game_master", GameMasterVars, GameMasterDecision, budget=1000, trim={"recent": "last"},
    example=lambda: GameMasterVars(
        world="Smallville: a small college town", now="Monday 10:00",
        place_name="Hobbs Cafe, seating area", actor="Isabella Rodriguez",
        activity="decorating the cafe for the party",
        objects=[{"id": "cafe_piano", "name": "piano", "state": "idle",
                  "states": ["idle", "being played"]}],
        recent=["Tom Moreno's song fills the cafe."]))
