"""Errors a user can cause: one line naming the file and the field, exit code 2."""

from __future__ import annotations

from pathlib import Path


class UserError(Exception):
    """Bad input from the user. The CLI prints `str(err)` as one line and exits 2."""

    exit_code = 2

    def __init__(self, message: str, *, path: str | Path | None = None, field: str | None = None):
        self.message = message
        self.path = str(path) if path is not None else None
        self.field = field
        super().__init__(self.format())

    def format(self) -> str:
        where = ""
        if self.path and self.field:
            where = f"{self.path}: {self.field}: "
        elif self.path:
            where = f"{self.path}: "
        elif self.field:
            where = f"{self.field}: "
        return f"{where}{self.message}".replace("\n", " ")


class LLMConfigError(UserError):
    """The LLM is not usable as configured (missing key, unreachable endpoint, bad spec)."""


class BudgetExceeded(Exception):
    """Raised by the LLM layer when a configured budget is spent; the engine stops cleanly."""


class LLMUnavailable(Exception):
    """Raised by the LLM layer when the model server looks down or hung for good: no call has
    succeeded for a while, or too many calls in a row ended in the fallback. It is raised in
    the middle of a tick, so the run loops stop without a checkpoint of the half-stepped
    world: a resume starts from the last checkpoint. The CLI prints one line, exit code 3."""

    exit_code = 3
