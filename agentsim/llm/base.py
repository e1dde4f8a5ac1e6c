"""The one LLM interface of agentsim.

Cognition asks for `LLM.ask(template_id, variables, schema=..., tier=..., agent=...)` and gets a
validated pydantic object (or text). Everything below that line (rendering the prompt file,
the cache, the provider, retries, repairs, accounting) lives in `agentsim.llm`.

A *backend* is the provider edge. It receives a `Prompt` (the rendered messages plus the
template id and variables they came from) and returns a `Completion` (raw text and token
counts). The offline mind and the test fakes are backends too: they answer from
`prompt.template_id` and `prompt.variables`, never by reading the rendered text.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

from pydantic import BaseModel


@dataclass(frozen=True)
class Prompt:
    """A request ready for a backend."""

    template_id: str
    variables: Mapping[str, Any]
    messages: tuple[Mapping[str, str], ...]
    json_schema: Mapping[str, Any] | None  # None: plain text answer
    schema_name: str | None
    tier: str = "smart"
    seed: int = 0
    agent: str | None = None
    max_tokens: int = 512
    temperature: float = 0.7
    output: type[BaseModel] | None = field(default=None, compare=False, repr=False)

    def cache_key(self, model: str) -> str:
        """Content address of the request: same rendered request, same key."""
        blob = json.dumps(
            {
                "model": model,
                "messages": list(map(dict, self.messages)),
                "schema": self.json_schema,
                "seed": self.seed,
                "temperature": self.temperature,
                "max_tokens": self.max_tokens,
            },
            sort_keys=True,
            ensure_ascii=False,
        )
        # surrogatepass: the same bytes as plain UTF-8 for any valid text, and no crash on a
        # lone surrogate
        return hashlib.sha256(blob.encode("utf-8", "surrogatepass")).hexdigest()


@dataclass(frozen=True)
class Completion:
    text: str
    prompt_tokens: int = 0
    completion_tokens: int = 0
    model: str = ""
    cached: bool = False
    extra: Mapping[str, Any] = field(default_factory=dict)


@runtime_checkable
class Backend(Protocol):
    """A provider edge. `name` is shown to the user; `model` keys the cache."""

    name: str
    model: str

    async def complete(self, prompt: Prompt) -> Completion: ...

    async def aclose(self) -> None: ...


class LLM(Protocol):
    """What cognition sees."""

    async def ask(
        self,
        template_id: str,
        variables: Mapping[str, Any],
        *,
        schema: type[BaseModel] | None = None,
        tier: str = "smart",
        agent: str | None = None,
    ) -> Any: ...
