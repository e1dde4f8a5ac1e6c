"""The LLM client cognition talks to: render, route, cache/replay, retry, repair, validate,
account. Model faults (429, 5xx, timeouts, garbled JSON) never crash a run: they are retried,
repaired, re-asked, and as a last resort answered by the fallback (the offline mind)."""

from __future__ import annotations

import asyncio
import functools
import logging
import random
import time
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from pydantic import BaseModel, ValidationError

from agentsim.errors import LLMConfigError
from agentsim.llm.accounting import Budget, Usage, cost
from agentsim.llm.base import Backend, Completion, Prompt
from agentsim.llm.errors import FatalLLMError, RetryableLLMError
from agentsim.llm.prompts import PromptLibrary, schema_instruction
from agentsim.llm.record import Recorder, ReplaySource, ResponseCache
from agentsim.llm.repair import extract_json

log = logging.getLogger("agentsim.llm")


class LLMClient:
    def __init__(
        self,
        backends: Mapping[str, Backend],
        prompts: PromptLibrary,
        *,
        rng: random.Random,
        max_in_flight: int = 128,
        timeout: float = 60.0,
        max_retries: int = 6,
        backoff_base: float = 0.5,
        backoff_max: float = 30.0,
        recorder: Recorder | None = None,
        replay: ReplaySource | None = None,
        cache: ResponseCache | None = None,
        budget: Budget | None = None,
        fallback: Backend | None = None,
        prices: dict[str, tuple[float, float]] | None = None,
        seed: int = 0,
        sleep: Callable[[float], Awaitable[Any]] = asyncio.sleep,
    ):
        if "smart" not in backends:
            raise ValueError("backends need at least a 'smart' tier")
        self.backends = dict(backends)
        self.prompts = prompts
        self.rng = rng
        self.max_in_flight = max_in_flight
        self.timeout = timeout
        self.max_retries = max_retries
        self.backoff_base = backoff_base
        self.backoff_max = backoff_max
        self.recorder = recorder
        self.replay = replay
        self.cache = cache
        self.budget = budget or Budget()
        self.fallback = fallback
        self.prices = prices or {}
        self.seed = seed
        self.sleep = sleep
        self.usage = Usage()
        self.in_flight = 0
        self.max_in_flight_seen = 0
        self._sem = asyncio.Semaphore(max_in_flight)
        self._warned: set[str] = set()

    # -- the interface ----------------------------------------------------------------------
    async def ask(
        self,
        template_id: str,
        variables: Mapping[str, Any],
        *,
        schema: type[BaseModel] | None = None,
        tier: str = "smart",
        agent: str | None = None,
    ) -> Any:
        backend = self.backends.get(tier, self.backends["smart"])
        prompt = self._prompt(template_id, variables, schema, tier, agent)
        key = prompt.cache_key(backend.model)
        if self.replay is not None:
            c = self.replay.get(key, prompt)
            self.usage.add(agent, template_id, tier, cache_hits=1)
            return self._validate(c.text, schema)
        if self.cache is not None and (c := self.cache.get(key)) is not None:
            self.usage.add(agent, template_id, tier, cache_hits=1)
            result = self._validate(c.text, schema)
            self._record(key, prompt, c, result)
            return result
        result, c = await self._answer(backend, prompt)
        self._record(key, prompt, c, result)
        if self.cache is not None and c.model != "fallback":
            self.cache.put(key, Completion(_dump(result), c.prompt_tokens,
                                           c.completion_tokens, c.model))
        return result

    def budget_exceeded(self) -> str | None:
        return self.budget.exceeded(self.usage)

    def describe(self) -> dict[str, Any]:
        tiers = {t: {"backend": b.name, "model": b.model} for t, b in sorted(self.backends.items())}
        names = {f"{b.name}:{b.model}" for b in self.backends.values()}
        offline = all(b.name == "offline" for b in self.backends.values())
        summary = "offline mind" if offline else ", ".join(
            f"{t}={v['backend']}:{v['model']}" for t, v in tiers.items()) if len(names) > 1 \
            else next(iter(names))
        if self.replay is not None:
            summary = "replay of a recorded run (no LLM calls)"
        return {"summary": summary, "offline": offline and self.replay is None, "tiers": tiers,
                "max_in_flight": self.max_in_flight, "timeout": self.timeout}

    async def aclose(self) -> None:
        for b in {id(b): b for b in self.backends.values()}.values():
            await b.aclose()
        if self.recorder is not None:
            self.recorder.close()
        if self.cache is not None:
            self.cache.close()

    # -- internals --------------------------------------------------------------------------
    def _prompt(self, template_id: str, variables: Mapping[str, Any],
                schema: type[BaseModel] | None, tier: str, agent: str | None) -> Prompt:
        messages = [dict(m) for m in self.prompts.render(template_id, dict(variables))]
        json_schema = _json_schema(schema) if schema is not None else None
        if json_schema is not None:
            messages[-1]["content"] += _instruction(schema)
        return Prompt(template_id, variables, tuple(messages), json_schema,
                      schema.__name__ if schema else None, tier, self.seed, agent, output=schema)

    async def _answer(self, backend: Backend, prompt: Prompt) -> tuple[Any, Completion]:
        schema = _schema_of(prompt)
        try:
            c = await self._call(backend, prompt)
            try:
                return self._validate(c.text, schema), c
            except (ValidationError, ValueError) as err:
                self.usage.add(prompt.agent, prompt.template_id, prompt.tier, repairs=1)
                again = _reask(prompt, c.text, err)
                c = await self._call(backend, again)
                return self._validate(c.text, schema), c
        except (ValidationError, ValueError, RetryableLLMError) as err:
            return await self._fall_back(prompt, err)

    async def _call(self, backend: Backend, prompt: Prompt) -> Completion:
        for attempt in range(self.max_retries + 1):
            try:
                async with self._sem:
                    self.in_flight += 1
                    self.max_in_flight_seen = max(self.max_in_flight_seen, self.in_flight)
                    t0 = time.perf_counter()
                    try:
                        c = await asyncio.wait_for(backend.complete(prompt), self.timeout)
                    except TimeoutError:
                        raise RetryableLLMError(f"timed out after {self.timeout:g}s") from None
                    finally:
                        self.in_flight -= 1
                self.usage.add(
                    prompt.agent, prompt.template_id, prompt.tier, calls=1,
                    prompt_tokens=c.prompt_tokens, completion_tokens=c.completion_tokens,
                    latency_s=time.perf_counter() - t0,
                    cost_usd=cost(c.model or backend.model, c.prompt_tokens,
                                  c.completion_tokens, self.prices),
                )
                return c
            except RetryableLLMError as e:
                self.usage.add(prompt.agent, prompt.template_id, prompt.tier, errors=1)
                if attempt == self.max_retries:
                    raise
                delay = self.rng.uniform(0, min(self.backoff_max, self.backoff_base * 2**attempt))
                if e.retry_after is not None:
                    delay = max(delay, min(e.retry_after, self.backoff_max))
                self.usage.add(prompt.agent, prompt.template_id, prompt.tier, retries=1)
                await self.sleep(delay)
            except FatalLLMError as e:
                raise LLMConfigError(str(e), field=f"llm ({backend.name}:{backend.model})") \
                    from None
        raise AssertionError("unreachable")

    async def _fall_back(self, prompt: Prompt, err: Exception) -> tuple[Any, Completion]:
        if self.fallback is None:
            raise err
        self.usage.add(prompt.agent, prompt.template_id, prompt.tier, fallbacks=1)
        if prompt.template_id not in self._warned:
            self._warned.add(prompt.template_id)
            log.warning("LLM gave no usable answer for %r (%s); using the offline mind for "
                        "such calls when it happens", prompt.template_id, str(err)[:200])
        c = await self.fallback.complete(prompt)
        result = self._validate(c.text, _schema_of(prompt))
        return result, Completion(c.text, 0, 0, "fallback")

    def _validate(self, text: str, schema: type[BaseModel] | None) -> Any:
        if schema is None:
            return text.strip()
        try:
            return schema.model_validate_json(text)
        except ValidationError:
            return schema.model_validate(extract_json(text))

    def _record(self, key: str, prompt: Prompt, c: Completion, result: Any) -> None:
        if self.recorder is not None:
            # The validated answer, not the raw text: a replay then needs no repair.
            self.recorder.write(key, prompt, Completion(_dump(result), c.prompt_tokens,
                                                        c.completion_tokens, c.model))


@functools.cache
def _json_schema(schema: type[BaseModel]) -> dict[str, Any]:
    return schema.model_json_schema()


@functools.cache
def _instruction(schema: type[BaseModel]) -> str:
    return schema_instruction(_json_schema(schema))


def _schema_of(prompt: Prompt) -> type[BaseModel] | None:
    return prompt.output


def _dump(result: Any) -> str:
    return result.model_dump_json() if isinstance(result, BaseModel) else str(result)


def _reask(prompt: Prompt, bad: str, err: Exception) -> Prompt:
    """The same request, plus the bad answer and what was wrong with it."""
    problem = str(err).splitlines()[0:4]
    messages = (*prompt.messages, {"role": "assistant", "content": bad[:2000]},
                {"role": "user", "content": "That answer was not valid: " + " ".join(problem)
                 + ". Answer again with only the JSON object."})
    return Prompt(prompt.template_id, prompt.variables, messages, prompt.json_schema,
                  prompt.schema_name, prompt.tier, prompt.seed, prompt.agent,
                  prompt.max_tokens, prompt.temperature, prompt.output)
