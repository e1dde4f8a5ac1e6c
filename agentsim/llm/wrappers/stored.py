"""Answers kept on disk: `Replay` answers from a recorded run (and makes no call), `Cache`
answers a request seen before from the cache shared across runs and keeps the new ones, and
`Recording` writes every answer of a run to its `llm.jsonl` with its origin.

What is kept is the validated answer (`answers.dump`), not the raw text, so a replay or a
cache hit needs no repair; an answer of the fallback is recorded (as `fallback`) but never
cached, so a later run asks the model again. Both stores keep who gave each answer, so a
replayed or cached answer comes back with it (`Answer.recorded`): a replayed fallback is still
a fallback to a measure that counts answers, while the accounting counts it as `replay`.
"""

from __future__ import annotations

from agentsim.llm.answers import dump, parse
from agentsim.llm.base import Answer, Answerer, Completion, Prompt
from agentsim.llm.record import Recorder, ReplaySource, ResponseCache


def _kept(a: Answer) -> Completion:
    c = a.completion
    return Completion(dump(a.value), c.prompt_tokens, c.completion_tokens, c.model)


class Replay:
    """The end of a replay's stack: the recording answers every request (a request it does not
    hold raises ReplayMiss: the run diverged)."""

    def __init__(self, source: ReplaySource):
        self.source = source

    async def answer(self, prompt: Prompt, key: str) -> Answer:
        c = self.source.get(key, prompt)
        return Answer(parse(c.text, prompt.output)[0], c, "replay", c.extra.get("origin"))


class Cache:
    def __init__(self, inner: Answerer, cache: ResponseCache):
        self.inner = inner
        self.cache = cache

    async def answer(self, prompt: Prompt, key: str) -> Answer:
        if (c := self.cache.get(key)) is not None:
            return Answer(parse(c.text, prompt.output)[0], c, "cache", c.extra.get("origin"))
        a = await self.inner.answer(prompt, key)
        if a.origin != "fallback":
            self.cache.put(key, _kept(a), a.given_by)
        return a


class Recording:
    def __init__(self, inner: Answerer, recorder: Recorder):
        self.inner = inner
        self.recorder = recorder

    async def answer(self, prompt: Prompt, key: str) -> Answer:
        a = await self.inner.answer(prompt, key)
        self.recorder.write(key, prompt, _kept(a), origin=a.origin, given_by=a.recorded)
        return a
