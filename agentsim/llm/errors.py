"""How a backend reports a failed call: worth retrying, or not."""

from __future__ import annotations


class RetryableLLMError(Exception):
    """429, 5xx, a timeout, a dropped connection: try again after a backoff."""

    def __init__(self, message: str, retry_after: float | None = None):
        super().__init__(message)
        self.retry_after = retry_after


class FatalLLMError(Exception):
    """A bad key, an unknown model, a request the server will never accept."""


class ReplayMiss(Exception):
    """A replayed run asked for something the recording does not hold: the run diverged."""

    def __init__(self, template_id: str, key: str):
        super().__init__(f"replay diverged: no recorded answer for a {template_id!r} request "
                         f"(key {key[:12]})")
        self.template_id = template_id
