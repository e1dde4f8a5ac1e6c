"""The offline game master: a narrator that changes nothing. Its rule, stated: the outcome
of an action is only that it was done (`Isabella Rodriguez: "decorate the cafe". Nothing else
in the world changes.`), and no object changes state. It is the honest
baseline of a game master: runs on the offline mind log the game master's decisions and
exercise their path, but the world's state moves only by its own rules."""

from __future__ import annotations

from agentsim.contracts.game_master import GameMasterVars


def game_master(v: GameMasterVars, seed: int) -> dict:
    activity = v.activity.strip().rstrip(".") or "busy"
    return {"outcome": f'{v.actor}: "{activity}". Nothing else in the world changes.',
            "object": None, "state": None}
