"""Messages the simulation worker posts to the app."""

from __future__ import annotations

from textual.message import Message


class TickDone(Message):
    """A tick has run (or the run has stopped: then `finished` says why)."""

    def __init__(self, tick: int, finished: str | None = None):
        super().__init__()
        self.tick = tick
        self.finished = finished
