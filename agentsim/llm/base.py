"""The one LLM interface of agentsim.

Cognition asks for `LLM.ask(template_id, variables, schema=..., tier=..., agent=...)` and gets
a validated pydantic object (or text); `LLM.ask_answer` gives it with its origin (who answered:
the model, or the offline mind as a fallback), for measures that must tell them apart.
Everything below that line (rendering the prompt file, the cache, the provider, retries,
repairs, accounting) lives in `agentsim.llm`. The rest of `LLM` (usage, describe, budget,
state, stats, close) is what the engine and the edges read, all declared here so that no caller
has to probe the client for what it has.

A *backend* is the provider edge. It receives a `Prompt` (the rendered messages plus the
template id and variables they came from) and returns a `Completion` (raw text and token
counts). The offline mind and the test fakes are backends too: they answer from
`prompt.template_id` and `prompt.variables`, never by reading the rendered text.

Between the two sit small wrappers (`agentsim.llm.wrappers`), composed in
`agentsim.llm.factory`: wrappers of a Backend are Backends (retry, budget, gates, timeouts,
metering), and the ones that deal in validated answers are `Answerer`s, which return an
`Answer` (the value, the completion it came from, and its origin: which mind gave it).
"""

from __future__ import annotations

import functools
import hashlib
import json
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from pydantic import BaseModel

if TYPE_CHECKING:
    from agentsim.contracts.contract import Answered
    from agentsim.llm.accounting import Usage


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
    # How to answer in JSON (an example and what the keys mean), for the last user message.
    # Sent only by a backend that cannot enforce `json_schema` itself (`instructed`): where
    # the server enforces the schema the prompt does not carry it a second time (issue 17).
    instruction: str = field(default="", repr=False)
    # What a server that enforces `json_schema` with a grammar gets instead (the model never
    # reads a grammar): as much of the format as the template's contract shows (`shown`);
    # None: `instruction` itself.
    grammar_instruction: str | None = field(default=None, repr=False)

    def instructed(self, grammar: bool = False) -> tuple[Mapping[str, str], ...]:
        """The messages with `instruction` added to the last user message (with
        `grammar_instruction` where a grammar enforces the schema: `grammar`)."""
        text = self.grammar_instruction if grammar and self.grammar_instruction is not None \
            else self.instruction
        return append_to_last_user(self.messages, text) if text else self.messages

    def cache_key(self, model: str) -> str:
        """Content address of the request: same rendered request, same key.

        The sha256 of `json.dumps({"model", "messages", "schema", "seed", "temperature",
        "max_tokens"}, sort_keys=True, ensure_ascii=False)`, written out part by part: the
        schema's part is the same for every request of a template, so it is kept."""
        blob = (f'{{"max_tokens": {_number(self.max_tokens)}, '
                f'"messages": {_dumps(list(map(dict, self.messages)))}, '
                f'"model": {_model_json(model)}, "schema": {_schema_json(self.json_schema)}, '
                f'"seed": {_number(self.seed)}, "temperature": {_number(self.temperature)}}}')
        # surrogatepass: the same bytes as plain UTF-8 for any valid text, and no crash on a
        # lone surrogate
        return hashlib.sha256(blob.encode("utf-8", "surrogatepass")).hexdigest()


# what `json.dumps(value, sort_keys=True, ensure_ascii=False)` builds at every call
_dumps = json.JSONEncoder(sort_keys=True, ensure_ascii=False).encode


def _number(x: Any) -> str:
    """`_dumps(x)`: an int or a finite float is written as its repr by the encoder, so it
    is written here without one (anything else goes through it)."""
    if type(x) is int or (type(x) is float and math.isfinite(x)):
        return repr(x)
    return _dumps(x)


@functools.lru_cache(maxsize=64)
def _model_json(model: str) -> str:
    """`_dumps(model)`, once per model name."""
    return _dumps(model)


_SCHEMA_JSON: dict[int, tuple[Any, str]] = {}  # id -> (the schema, kept alive; its JSON)
_SCHEMA_JSON_MAX = 4096


def _schema_json(schema: Mapping[str, Any] | None) -> str:
    """`_dumps(schema)`, kept for the schemas seen (a template's schema is one object,
    `agentsim.llm.answers.json_schema`), at most `_SCHEMA_JSON_MAX` of them."""
    found = _SCHEMA_JSON.get(id(schema))
    if found is not None and found[0] is schema:
        return found[1]
    text = _dumps(schema)
    if len(_SCHEMA_JSON) < _SCHEMA_JSON_MAX:
        _SCHEMA_JSON[id(schema)] = (schema, text)
    return text


def append_to_last_user(messages: tuple[Mapping[str, str], ...], text: str
                        ) -> tuple[dict[str, str], ...]:
    """`text` added to the last user message (a new user message if there is none)."""
    out = [dict(m) for m in messages]
    users = [i for i, m in enumerate(out) if m["role"] == "user"]
    if not users:
        out.append({"role": "user", "content": text.strip()})
    else:
        out[users[-1]]["content"] += text
    return tuple(out)


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


@dataclass(frozen=True)
class Answer:
    """A validated answer: `value` (a pydantic object, or text), the completion it was read
    from, and its `origin` (model, repaired, reasked, fallback, offline, cache, replay; see
    `agentsim.llm.accounting`)."""

    value: Any
    completion: Completion
    origin: str
    # for an answer read back from a store (a replay, the cache): the origin it had when it
    # was given (None: not known, or not a stored answer)
    recorded: str | None = None

    @property
    def given_by(self) -> str:
        """Who gave the words: the recorded origin of a stored answer, else `origin`. A
        replayed fallback is still a fallback; `origin` says how this run got it (`replay`)
        and is what the accounting counts."""
        return self.recorded or self.origin


class Answerer(Protocol):
    """A step of the stack that deals in validated answers. `key` is the request's content
    address (`Prompt.cache_key` under the tier's model), computed once per request."""

    async def answer(self, prompt: Prompt, key: str) -> Answer: ...


@runtime_checkable
class LLM(Protocol):
    """What cognition, the engine and the edges see (`agentsim.llm.client.LLMClient` is it).

    `usage`: the spend and the answers by origin (`.total`, `.table()`, `.summary()`);
    `backends`: the provider edge of each tier; `describe()`: what the run uses, for a
    manifest or a start line (`summary`, `offline`, `tiers`, `max_in_flight`, `timeout`,
    `fallback`); `budget_exceeded()`: why the budget is spent, or None (checked between
    ticks); `get_state()`/`set_state()`: what a checkpoint keeps; `stats()`: live numbers for
    a progress line."""

    usage: Usage
    backends: Mapping[str, Backend]

    async def ask(
        self,
        template_id: str,
        variables: Mapping[str, Any],
        *,
        schema: type[BaseModel] | None = None,
        tier: str = "smart",
        agent: str | None = None,
    ) -> Any: ...

    async def ask_answer(
        self,
        template_id: str,
        variables: Mapping[str, Any],
        *,
        schema: type[BaseModel] | None = None,
        tier: str = "smart",
        agent: str | None = None,
    ) -> Answered[Any]:
        """`ask`, with who gave the answer (`Answered.origin`: see `Answer.given_by`)."""
        ...

    def describe(self) -> dict[str, Any]: ...

    def budget_exceeded(self) -> str | None: ...

    def get_state(self) -> dict[str, Any]: ...

    def set_state(self, state: Mapping[str, Any]) -> None: ...

    def stats(self) -> dict[str, Any]: ...

    async def aclose(self) -> None: ...
