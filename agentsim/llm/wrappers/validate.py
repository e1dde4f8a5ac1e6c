"""Validate, repair, re-ask: the step that turns a backend's text into an answer.

The text is validated against the request's schema; JSON a small model garbled (fences,
chatter, trailing commas, Python quotes) is repaired (`repaired`); an answer still invalid is
asked for once more with the error shown to the model (`reasked`). What is still unusable
raises ValueError for the step above (the fallback, or a stop). The offline mind, when it is
the tier's configured mind, gives `offline` answers, never `model` ones.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping

from agentsim.llm.accounting import Usage
from agentsim.llm.answers import parse
from agentsim.llm.base import Answer, Backend, Prompt
from agentsim.llm.prompts import reask_messages
from agentsim.llm.wrappers.layer import count


class Validate:
    """`calls`: the call stack of each tier ("smart" required; a tier not there uses smart's)."""

    def __init__(self, calls: Mapping[str, Backend], usage: Usage):
        if "smart" not in calls:
            raise ValueError("backends need at least a 'smart' tier")
        self.calls = dict(calls)
        self.usage = usage

    async def answer(self, prompt: Prompt, key: str) -> Answer:
        call = self.calls.get(prompt.tier, self.calls["smart"])
        mind = call.name == "offline"  # the offline mind is the configured mind
        c = await call.complete(prompt)
        try:
            value, repaired = self._read(c.text, prompt)
            return Answer(value, c, "offline" if mind else "repaired" if repaired else "model")
        except ValueError as err:  # incl. pydantic's ValidationError
            count(self.usage, prompt, reasks=1)
            # the reask shows how to answer, whatever the server enforces
            again = reask_messages(prompt.instructed(), c.text, err, prompt.json_schema is not None)
            c = await call.complete(dataclasses.replace(prompt, messages=again, instruction="",
                                                          grammar_instruction=None))
            return Answer(self._read(c.text, prompt)[0], c, "offline" if mind else "reasked")

    def _read(self, text: str, prompt: Prompt) -> tuple[object, bool]:
        value, repaired = parse(text, prompt.output)
        if repaired:
            count(self.usage, prompt, repairs=1)
        return value, repaired
