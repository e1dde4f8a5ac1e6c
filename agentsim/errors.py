"""agentsim's errors, in one place.

A user's errors (`UserError`, `LLMConfigError`: one line naming the file and the field, exit
code 2), the run stoppers the LLM layer raises (`BudgetExceeded`, `LLMUnavailable`: exit code
3), and how a backend reports a failed call (`RetryableLLMError`, `RequestRejected`,
`FatalLLMError`) or a replay that diverged (`ReplayMiss`).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pydantic import ValidationError


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


def invalid(err: ValidationError, what: str) -> UserError:
    """A pydantic validation error as one line naming the field: `what` is the model's name
    ("Settings", "RunOptions"), e.g. `Settings.decay: must be <= 1 (got 1.5)`."""
    first = err.errors()[0]
    where = ".".join(str(p) for p in first["loc"])
    msg = first["msg"].removeprefix("Value error, ")
    msg = msg[0].lower() + msg[1:] if msg else "invalid"
    extra = f"; {len(err.errors()) - 1} more" if len(err.errors()) > 1 else ""
    got = f" (got {first['input']!r})" if first.get("type") != "missing" else ""
    return UserError(f"{msg}{got}{extra}", field=f"{what}.{where}" if where else what)


# -- how a backend reports a failed call ----------------------------------------------------
class RetryableLLMError(Exception):
    """429, 5xx, a timeout, a dropped connection: try again after a backoff.
    `retry_after`: seconds the server asked us to wait (Retry-After / retry-after-ms)."""

    def __init__(self, message: str, retry_after: float | None = None):
        super().__init__(message)
        self.retry_after = retry_after


class RequestRejected(ValueError):
    """The server refused this one request (e.g. too long): no retry helps; the client answers
    it with the fallback. A ValueError, like an answer that cannot be read."""


class FatalLLMError(Exception):
    """A bad key, an unknown model, no quota: no call will ever succeed. The client turns it
    into an LLMConfigError (one line, exit code 2)."""


class ReplayMiss(Exception):
    """A replayed run asked for something the recording does not hold: the run diverged."""

    def __init__(self, template_id: str, key: str):
        super().__init__(f"replay diverged: no recorded answer for a {template_id!r} request "
                         f"(key {key[:12]})")
        self.template_id = template_id
        self.key = key
