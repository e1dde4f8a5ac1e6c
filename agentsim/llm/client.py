"""The LLM client cognition talks to: render, route, cache/replay, retry, repair, validate,
account. Model faults (429, 5xx, timeouts, garbled JSON) never crash a run: they are retried,
repaired, re-asked, and as a last resort answered by the fallback (the offline mind).

A server that is down or hangs for good is given up on (LLMUnavailable, which the run loops
turn into a clean stop) when no call has succeeded for `give_up_after` seconds while calls
were being tried, or when `give_up_failures` calls in a row ended in the fallback after their
retries. Any answer from the server resets both. Calls in flight when the client gives up end
at once with the same error, and so does every later call.

    ask -> render the template -> Prompt -> replay? cache? -> budget check -> semaphore ->
    backend (wait_for timeout; retryable errors: backoff with full jitter, Retry-After) ->
    parse (fences, chatter, trailing commas, quotes) -> validate -> re-ask once with the
    error -> fallback. Fatal errors (bad key, unknown model) raise LLMConfigError.

Every answer has an origin (model, repaired, reasked, fallback, offline, cache, replay; see
`agentsim.llm.accounting`): counted in `usage` per template, tier and agent, and written with
the answer to the LLM record. Falling back is a named choice, `fallback_policy`:
`offline` (the offline mind answers a call the model could not, counted as `fallback`) or
`stop` (the client gives up at once with LLMUnavailable, which the run loops turn into a
clean stop at the last checkpoint; no answer of the offline mind is ever mixed in).
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import functools
import logging
import random
import time
import weakref
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from pydantic import BaseModel, ValidationError

from agentsim.errors import BudgetExceeded, LLMConfigError, LLMUnavailable
from agentsim.llm.accounting import Budget, Usage, cost
from agentsim.llm.base import Backend, Completion, Prompt
from agentsim.llm.config import FALLBACKS
from agentsim.llm.errors import FatalLLMError, RequestRejected, RetryableLLMError
from agentsim.llm.prompts import (
    PromptLibrary,
    append_to_last_user,
    reask_messages,
    schema_instruction,
)
from agentsim.llm.record import Recorder, ReplaySource, ResponseCache
from agentsim.llm.repair import extract_json, scrub

log = logging.getLogger("agentsim.llm")

# What answers a call the model could not: the offline mind (counted as a `fallback`), or
# nobody (the run stops cleanly at its last checkpoint).
FALLBACK_POLICIES = FALLBACKS  # what answers a call the model could not


class LLMClient:
    """`backends`: a Backend per tier ("smart" required; a missing tier uses smart's)."""

    def __init__(
        self,
        backends: Mapping[str, Backend],
        prompts: PromptLibrary,
        *,
        rng: random.Random,
        max_in_flight: int = 64,
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
        give_up_after: float | None = None,
        give_up_failures: int | None = 20,
        fallback_policy: str = "offline",
    ):
        """`give_up_after`: seconds without a successful call (while calls are tried) after
        which the server counts as gone; None: 120, or `timeout` if that is longer (a slow
        server's single answer must not count as an outage); 0 never gives up on time.
        `give_up_failures`: calls in a row answered by the fallback after all their retries
        (a dead server); 0 or None: never. `fallback_policy`: `offline` (the `fallback`
        backend answers a call the model could not) or `stop` (raise LLMUnavailable)."""
        if "smart" not in backends:
            raise ValueError("backends need at least a 'smart' tier")
        if fallback_policy not in FALLBACK_POLICIES:
            raise ValueError(f"fallback_policy must be one of {', '.join(FALLBACK_POLICIES)}")
        self.fallback_policy = fallback_policy
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
        self._gates: dict[tuple[int, Any], asyncio.Semaphore] = {}
        self._warned: set[str] = set()
        self.give_up_after = max(120.0, timeout) if give_up_after is None else give_up_after
        self.give_up_failures = give_up_failures or 0
        self.gave_up: str | None = None  # why the client gave up on the server, once it has
        self.failed_in_a_row = 0  # calls answered by the fallback since the last answer
        self._since: float | None = None  # when the calls being tried began, with no answer
        self._trying = 0  # calls being tried (in flight or waiting to retry)
        # set when the client gives up, one per event loop it is used on
        self._gone: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Event] = \
            weakref.WeakKeyDictionary()

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
            self.usage.answered(agent, template_id, tier, "replay")
            return _parse(c.text, schema)[0]
        if self.cache is not None and (c := self.cache.get(key)) is not None:
            self.usage.add(agent, template_id, tier, cache_hits=1)
            self.usage.answered(agent, template_id, tier, "cache")
            result = _parse(c.text, schema)[0]
            self._record(key, prompt, c, result, "cache")
            return result
        result, c, origin = await self._answer(backend, prompt)
        self.usage.answered(agent, template_id, tier, origin)
        self._record(key, prompt, c, result, origin)
        if self.cache is not None and c.model != "fallback":
            self.cache.put(key, Completion(_dump(result), c.prompt_tokens,
                                           c.completion_tokens, c.model))
        return result

    def get_state(self) -> dict[str, Any]:
        """What a checkpoint keeps of the client: the spend so far."""
        return {"usage": self.usage.summary()}

    def set_state(self, state: dict[str, Any]) -> None:
        self.usage.restore(state.get("usage", {}))

    def budget_exceeded(self) -> str | None:
        """Why the budget is spent, or None: the engine checks it between ticks."""
        return self.budget.exceeded(self.usage)

    def stats(self) -> dict[str, Any]:
        """Live numbers for a progress line: totals, and what is in flight now."""
        t = self.usage.total
        return {"calls": t.calls, "cache_hits": t.cache_hits, "tokens": t.tokens,
                "cost_usd": round(t.cost_usd, 6), "retries": t.retries, "repairs": t.repairs,
                "reasks": t.reasks, "fallbacks": t.fallbacks, "errors": t.errors,
                "origins": dict(t.origins), "model_share": t.model_share,
                "in_flight": self.in_flight,
                "max_in_flight_seen": self.max_in_flight_seen,
                "max_in_flight": self.max_in_flight}

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
                "max_in_flight": self.max_in_flight, "timeout": self.timeout,
                "fallback": self.fallback_policy if self.fallback is not None else None}

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
        # A lone surrogate (say from a skill's return value) cannot be sent or stored.
        messages = tuple(scrub(m) for m in self.prompts.render(template_id, variables))
        json_schema = _json_schema(schema) if schema is not None else None
        if schema is not None:
            messages = append_to_last_user(messages, output_instruction(schema))
        return Prompt(template_id, variables, messages, json_schema,
                      schema.__name__ if schema else None, tier, self.seed, agent, output=schema)

    async def _answer(self, backend: Backend, prompt: Prompt) -> tuple[Any, Completion, str]:
        """The answer, its completion and its origin."""
        schema = prompt.output
        mind = backend.name == "offline"  # the offline mind is the configured mind
        try:
            c = await self._call(backend, prompt)
            try:
                result, repaired = self._validate(c.text, prompt)
                return result, c, "offline" if mind else "repaired" if repaired else "model"
            except (ValidationError, ValueError) as err:
                self._count(prompt, reasks=1)
                again = reask_messages(prompt.messages, c.text, err, prompt.json_schema is not None)
                c = await self._call(backend, dataclasses.replace(prompt, messages=again))
                return self._validate(c.text, prompt)[0], c, "offline" if mind else "reasked"
        except (ValueError, RetryableLLMError, BudgetExceeded) as err:  # incl. ValidationError
            if isinstance(err, RequestRejected):
                self._count(prompt, errors=1)
            if self.fallback is not None and self.fallback_policy == "stop":
                self._stop(prompt, err)  # raises LLMUnavailable
            if isinstance(err, RetryableLLMError) and self.fallback is not None:
                self._failed_call(err)  # raises LLMUnavailable when that was one too many
            result, c = await self._fall_back(prompt, err, schema)
            return result, c, "fallback"

    def _count(self, prompt: Prompt, **amounts: float) -> None:
        self.usage.add(prompt.agent, prompt.template_id, prompt.tier, **amounts)

    async def _call(self, backend: Backend, prompt: Prompt) -> Completion:
        self._trying += 1
        if self._since is None:
            self._since = time.monotonic()
        try:
            return await self._try(backend, prompt)
        finally:
            self._trying -= 1
            if self._trying == 0:  # nothing is being tried: idle time is no outage
                self._since = None

    async def _try(self, backend: Backend, prompt: Prompt) -> Completion:
        for attempt in range(self.max_retries + 1):
            self.budget.check(self.usage)  # before each live call, retries included
            try:
                # a backend that serves one request at a time (a model in this process) queues
                # the rest here, before the run's slots and before the timeout starts
                async with self._gate(backend), self._sem:
                    self._check_alive()
                    self.in_flight += 1
                    self.max_in_flight_seen = max(self.max_in_flight_seen, self.in_flight)
                    t0 = time.perf_counter()
                    try:
                        c = await self._complete(backend, prompt)
                    finally:
                        self.in_flight -= 1
                self._answered()
                self._count(
                    prompt, calls=1,
                    prompt_tokens=c.prompt_tokens, completion_tokens=c.completion_tokens,
                    latency_s=time.perf_counter() - t0,
                    cost_usd=cost(c.model or backend.model, c.prompt_tokens,
                                  c.completion_tokens, self.prices, backend.name),
                )
                return c
            except RetryableLLMError as e:
                self._count(prompt, errors=1)
                if attempt == self.max_retries:
                    raise
                # Full jitter: uniform in [0, min(cap, base * 2^attempt)]; at least Retry-After.
                delay = self.rng.uniform(0, min(self.backoff_max, self.backoff_base * 2**attempt))
                if e.retry_after is not None:
                    delay = max(delay, min(e.retry_after, self.backoff_max))
                self._count(prompt, retries=1)
                self._check_alive()
                await self.sleep(delay)
            except FatalLLMError as e:
                raise LLMConfigError(str(e), field=f"llm ({backend.name}:{backend.model})") \
                    from None
        raise AssertionError("unreachable")

    def _gate(self, backend: Backend) -> Any:
        """The backend's own limit on requests at once (its `concurrency`), else none."""
        limit = getattr(backend, "concurrency", None)
        if not limit:
            return contextlib.nullcontext()
        loop = asyncio.get_running_loop()
        gate = self._gates.get((id(backend), loop))
        if gate is None:
            gate = self._gates[(id(backend), loop)] = asyncio.Semaphore(limit)
        return gate

    # -- giving up on a server that is gone ---------------------------------------------------
    async def _complete(self, backend: Backend, prompt: Prompt) -> Completion:
        """One request, ended by the timeout, or at once when the client gives up (a hung
        request is not waited for beyond `give_up_after` since the last answer)."""
        loop = asyncio.get_running_loop()
        if (event := self._gone.get(loop)) is None:
            event = self._gone[loop] = asyncio.Event()
        request = asyncio.ensure_future(backend.complete(prompt))
        gone = asyncio.ensure_future(event.wait())
        deadline = time.monotonic() + self.timeout
        try:
            while True:
                now = time.monotonic()
                wait = deadline - now
                if self.give_up_after > 0 and self._since is not None:
                    wait = min(wait, self._since + self.give_up_after - now)
                done, _ = await asyncio.wait({request, gone}, timeout=max(0.0, wait),
                                             return_when=asyncio.FIRST_COMPLETED)
                if request in done:
                    return request.result()
                self._check_alive()  # gives up when it is time, and raises
                if time.monotonic() >= deadline:
                    raise RetryableLLMError(f"timed out after {self.timeout:g}s")
        finally:
            gone.cancel()
            if not request.done():
                request.cancel()
                try:
                    # the request we dropped may have failed meanwhile: no matter
                    with contextlib.suppress(Exception):
                        await request
                except asyncio.CancelledError:
                    task = asyncio.current_task()
                    if task is not None and task.cancelling():  # we are cancelled too
                        raise

    def _answered(self) -> None:
        """An answer came: the server is there."""
        self.failed_in_a_row = 0
        self._since = None if self._trying <= 1 else time.monotonic()

    def _failed_call(self, err: Exception) -> None:
        self.failed_in_a_row += 1
        if self.give_up_failures and self.failed_in_a_row >= self.give_up_failures:
            self._give_up(f"{self.failed_in_a_row} LLM calls in a row failed after all their "
                          f"retries (last: {str(err)[:120]})")
        self._check_alive()

    def _check_alive(self) -> None:
        """Raises LLMUnavailable once the client has given up, or it is time to."""
        if self.gave_up is None and self.give_up_after > 0 and self._since is not None \
                and time.monotonic() - self._since >= self.give_up_after:
            self._give_up(f"no LLM call succeeded for {self.give_up_after:g}s")
        if self.gave_up is not None:
            raise LLMUnavailable(self.gave_up)

    def _stop(self, prompt: Prompt, err: Exception) -> None:
        """`--fallback stop`: a call the model could not answer ends the run (and every call
        in flight) instead of being answered by the offline mind."""
        if self.gave_up is None:
            what = "budget spent" if isinstance(err, BudgetExceeded) else "failed"
            self.gave_up = (f"the model could not answer a {prompt.template_id!r} call ({what}: "
                            f"{str(err)[:160]}) and the fallback is 'stop'")
            log.info("%s", self.gave_up)
            for event in self._gone.values():
                event.set()
        raise LLMUnavailable(self.gave_up)

    def _give_up(self, reason: str) -> None:
        if self.gave_up is None:
            names = sorted({f"{b.name}:{b.model}" for b in self.backends.values()})
            self.gave_up = f"the LLM server seems down ({', '.join(names)}): {reason}"
            log.info("%s", self.gave_up)
            for event in self._gone.values():
                event.set()

    async def _fall_back(self, prompt: Prompt, err: Exception,
                         schema: type[BaseModel] | None) -> tuple[Any, Completion]:
        if self.fallback is None:
            raise err
        self._count(prompt, fallbacks=1)
        topic = "budget" if isinstance(err, BudgetExceeded) else prompt.template_id
        if topic not in self._warned:  # once per template (and once for the budget)
            self._warned.add(topic)
            log.warning("no usable LLM answer for %r (%s): the fallback answers such calls",
                        prompt.template_id, " ".join(str(err).split())[:200])  # one line
        c = await self.fallback.complete(prompt)
        return _parse(c.text, schema)[0], Completion(c.text, 0, 0, "fallback")

    def _validate(self, text: str, prompt: Prompt) -> tuple[Any, bool]:
        result, repaired = _parse(text, prompt.output)
        if repaired:
            self._count(prompt, repairs=1)
        return result, repaired

    def _record(self, key: str, prompt: Prompt, c: Completion, result: Any,
                origin: str) -> None:
        if self.recorder is not None:
            # The validated answer, not the raw text: a replay then needs no repair.
            self.recorder.write(key, prompt, Completion(_dump(result), c.prompt_tokens,
                                                        c.completion_tokens, c.model),
                                origin=origin)


@functools.cache
def _json_schema(schema: type[BaseModel]) -> dict[str, Any]:
    return schema.model_json_schema()


@functools.cache
def output_instruction(schema: type[BaseModel]) -> str:
    """The JSON instruction appended to a prompt that answers `schema` (also what an exported
    fine-tuning example shows the model)."""
    return schema_instruction(_json_schema(schema))


def _parse(text: str, schema: type[BaseModel] | None) -> tuple[Any, bool]:
    """The validated answer, and whether the text needed a repair to get there. Raises
    ValueError (or ValidationError, a ValueError) when there is no usable answer."""
    text = scrub(text)
    if schema is None:
        if not text.strip():
            raise ValueError("the answer was empty")
        return text.strip(), False
    try:
        return schema.model_validate_json(text), False
    except ValidationError:
        return schema.model_validate(extract_json(text)), True


def _dump(result: Any) -> str:
    return result.model_dump_json() if isinstance(result, BaseModel) else str(result)

