"""A fake LLM backend made from a plain function of the template id and its variables."""

from __future__ import annotations

import inspect
import json
from collections.abc import Callable, Mapping
from typing import Any

from pydantic import BaseModel

from agentsim.llm.base import Completion, Prompt

Responder = Callable[[str, Mapping[str, Any]], Any]


class FakeLLM:
    """`FakeLLM(lambda template_id, variables: {...})`: answers dicts, models or text, sync or
    async, and keeps the requests it got in `calls` (template id, variables, tier, agent)."""

    name = "fake"
    model = "fake"

    def __init__(self, fn: Responder):
        self.fn = fn
        self.calls: list[Prompt] = []

    async def complete(self, prompt: Prompt) -> Completion:
        self.calls.append(prompt)
        out = self.fn(prompt.template_id, prompt.variables)
        if inspect.isawaitable(out):
            out = await out
        if isinstance(out, BaseModel):
            text = out.model_dump_json()
        elif isinstance(out, (dict, list)):
            text = json.dumps(out)
        else:
            text = str(out)
        size = sum(len(m["content"]) for m in prompt.messages)
        return Completion(text, size // 4, len(text) // 4, self.model)

    async def aclose(self) -> None:
        return None

    def templates(self) -> list[str]:
        return [p.template_id for p in self.calls]


def answering(*answers: Any) -> FakeLLM:
    """A FakeLLM that gives these answers in turn, whatever is asked (an exception among them
    is raised at its turn)."""
    it = iter(answers)

    def fn(_template: str, _variables: Mapping[str, Any]) -> Any:
        x = next(it)
        if isinstance(x, Exception):
            raise x
        return x

    return FakeLLM(fn)


async def no_sleep(_seconds: float) -> None:
    """An LLMClient `sleep` for tests: retries back off without waiting."""
    return None


def test_client(backend: Any, prompts: Any, **kwargs: Any) -> Any:
    """An LLMClient over one backend for both tiers, seeded, with retries that do not wait;
    `kwargs` as `agentsim.llm.factory.compose`."""
    import random

    from agentsim.llm.factory import compose

    kwargs.setdefault("rng", random.Random(0))
    kwargs.setdefault("sleep", no_sleep)
    return compose({"smart": backend, "fast": backend}, prompts, **kwargs)


test_client.__test__ = False  # not a test for pytest to collect
