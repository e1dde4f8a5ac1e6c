"""How a backend reports a failed call: worth retrying, not worth retrying, or fatal."""

from __future__ import annotations


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
