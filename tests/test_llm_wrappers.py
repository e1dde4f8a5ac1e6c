"""Each wrapper of the LLM stack on its own, over FakeLLM or a stub answerer, then the order
the factory composes them in and the fallback's default. No network, no real waits."""

from __future__ import annotations

import asyncio
import json
import random

import pytest
from pydantic import BaseModel

from agentsim.errors import (
    BudgetExceeded,
    FatalLLMError,
    LLMConfigError,
    LLMUnavailable,
    RequestRejected,
    RetryableLLMError,
)
from agentsim.llm.accounting import Budget, Usage
from agentsim.llm.base import LLM, Answer, Completion, Prompt
from agentsim.llm.record import Recorder, ReplaySource, ResponseCache
from agentsim.llm.wrappers import (
    Bounded,
    Budgeted,
    Cache,
    Fallback,
    Gate,
    InFlight,
    Metered,
    Origins,
    Recording,
    Replay,
    Retry,
    Stop,
    Tracked,
    Validate,
    Watchdog,
    Watched,
)
from agentsim.testing import FakeLLM, answering, no_sleep


class Out(BaseModel):
    word: str
    n: int


def prompt(what: str = "y", schema: type[BaseModel] | None = Out, tier: str = "smart") -> Prompt:
    return Prompt("echo", {"what": what}, ({"role": "user", "content": f"Say {what}."},),
                  Out.model_json_schema() if schema else None, schema.__name__ if schema else None,
                  tier, agent="ann", output=schema)


class Stub:
    """An answerer that gives `answers` in turn (an exception among them is raised)."""

    def __init__(self, *answers: Answer | Exception):
        self.answers = list(answers)
        self.asked = 0

    async def answer(self, prompt: Prompt, key: str) -> Answer:
        self.asked += 1
        a = self.answers.pop(0)
        if isinstance(a, Exception):
            raise a
        return a


def answer(origin: str = "model", word: str = "w") -> Answer:
    return Answer(Out(word=word, n=1), Completion(f'{{"word": "{word}", "n": 1}}', 3, 2, "m"),
                  origin)


def watchdog(**kw) -> Watchdog:
    return Watchdog(["fake:fake"], kw.get("after", 0), kw.get("failures", 0))


# -- wrappers of a backend --------------------------------------------------------------------
async def test_retry_backs_off_with_jitter_from_the_rng_passed_in():
    delays: list[float] = []

    async def sleep(s: float) -> None:
        delays.append(s)

    usage = Usage()
    fake = answering(RetryableLLMError("500"), RetryableLLMError("429", retry_after=2.0), "ok")
    r = Retry(fake, usage, rng=random.Random(7), max_retries=3, backoff_base=1, backoff_max=5,
              sleep=sleep)
    assert (await r.complete(prompt())).text == "ok"
    rng = random.Random(7)
    assert delays == [rng.uniform(0, 1), max(rng.uniform(0, 2), 2.0)]
    assert (usage.total.errors, usage.total.retries) == (2, 2)
    assert (r.name, r.model) == ("fake", "fake")  # named as the backend it wraps


async def test_retry_gives_up_rejects_and_turns_a_fatal_error_into_a_config_error():
    usage = Usage()
    with pytest.raises(RetryableLLMError):
        await Retry(answering(*[RetryableLLMError("x")] * 2), usage, rng=random.Random(0),
                    max_retries=1, sleep=no_sleep).complete(prompt())
    with pytest.raises(RequestRejected):  # no retry helps
        await Retry(answering(RequestRejected("long")), usage, rng=random.Random(0),
                    sleep=no_sleep).complete(prompt())
    assert usage.total.errors == 3 and usage.total.retries == 1
    with pytest.raises(LLMConfigError, match=r"fake:fake"):
        await Retry(answering(FatalLLMError("bad key")), usage,
                    rng=random.Random(0)).complete(prompt())


async def test_retry_asks_the_watchdog_before_it_waits():
    dog = watchdog()
    dog.give_up("gone")
    r = Retry(answering(RetryableLLMError("x"), "ok"), Usage(), rng=random.Random(0),
              sleep=no_sleep, check=dog.check)
    with pytest.raises(LLMUnavailable, match="seems down"):
        await r.complete(prompt())


async def test_budgeted_makes_no_call_once_the_budget_is_spent():
    usage, fake = Usage(), answering("a", "b")
    b = Budgeted(fake, Budget(calls=1), usage)
    await b.complete(prompt())
    usage.add(None, "echo", "smart", calls=1)
    with pytest.raises(BudgetExceeded, match="call budget of 1"):
        await b.complete(prompt())
    assert len(fake.calls) == 1


async def test_gate_and_bounded_limit_requests_at_once(in_flight_gate):
    peak = 0
    now = 0
    held = in_flight_gate(1)  # each request waits until this many are in flight

    async def slow(t, v):
        nonlocal now, peak
        now += 1
        peak = max(peak, now)
        await asyncio.sleep(0)  # the others could come in now
        await held.hold()
        now -= 1
        return "ok"

    gate = Gate(FakeLLM(slow), 1)
    await asyncio.gather(*(gate.complete(prompt(str(i))) for i in range(5)))
    assert peak == 1
    peak = 0
    held = in_flight_gate(3)
    pool = InFlight(3)
    shared = [Bounded(FakeLLM(slow), pool), Bounded(FakeLLM(slow), pool)]  # one pool, two
    await asyncio.gather(*(shared[i % 2].complete(prompt(str(i))) for i in range(12)))
    held.check()
    assert peak == 3 and pool.max_seen == 3 and pool.now == 0


async def test_metered_counts_calls_tokens_and_dollars():
    usage = Usage()
    fake = FakeLLM(lambda t, v: "x" * 40)
    fake.model = "gpt-4o-mini"
    await Metered(fake, usage).complete(prompt())
    t = usage.total
    assert t.calls == 1 and t.completion_tokens == 10 and t.cost_usd > 0
    assert usage.by_agent["ann"].calls == 1 and usage.by_template["echo"].calls == 1
    local = Usage()
    fake.name = "ollama"
    await Metered(fake, local).complete(prompt())
    assert local.total.cost_usd == 0  # a local server costs nothing


async def test_watched_times_out_and_ends_at_once_when_the_stack_gives_up():
    async def hang(t, v):
        await asyncio.Event().wait()

    dog = watchdog()
    with pytest.raises(RetryableLLMError, match=r"timed out after 0\.01s"):
        await Watched(FakeLLM(hang), dog, 0.01).complete(prompt())
    slow = asyncio.ensure_future(Watched(FakeLLM(hang), dog, 3600).complete(prompt()))
    await asyncio.sleep(0.01)
    dog.give_up("gone")  # the hung request ends now, not in an hour
    with pytest.raises(LLMUnavailable, match=r"seems down \(fake:fake\): gone"):
        await slow


async def test_watched_calls_a_backend_that_never_waits_in_the_callers_task():
    class Instant(FakeLLM):
        waits = False

    def where(t, v):
        seen.append(asyncio.current_task())
        return "ok"

    seen: list = []
    dog = watchdog()
    me = asyncio.current_task()
    assert (await Watched(Instant(where), dog, 60).complete(prompt())).text == "ok"
    assert seen == [me]  # no task of its own, no race against a timeout
    await Watched(FakeLLM(where), dog, 60).complete(prompt())
    assert seen[1] is not me  # a backend that may wait runs as a task the timeout can end
    dog.give_up("gone")
    with pytest.raises(LLMUnavailable, match="gone"):  # refused at once all the same
        await Watched(Instant(where), dog, 60).complete(prompt())
    assert len(seen) == 2


async def test_tracked_times_an_outage_only_while_a_call_is_tried(watchdog_clock):
    async def hang(t, v):
        await asyncio.Event().wait()

    dog = watchdog(after=0.05)
    quick = Tracked(Watched(FakeLLM(lambda t, v: "ok"), dog, 60), dog)
    await quick.complete(prompt())
    watchdog_clock.advance(0.1)  # idle: no outage
    await quick.complete(prompt())
    assert dog.gave_up is None
    watchdog_clock.step = 0.01  # time goes on while the next call hangs
    with pytest.raises(LLMUnavailable, match=r"no LLM call succeeded for 0\.05s"):
        await Tracked(Watched(FakeLLM(hang), dog, 60), dog).complete(prompt())


# -- wrappers of answers ----------------------------------------------------------------------
async def test_validate_reads_repairs_and_re_asks_once():
    usage = Usage()
    fake = answering('{"word": "a", "n": 1}', '```json\n{"word": "b", "n": 2}\n```',
                     '{"word": "c"}', '{"word": "c", "n": 3}', "none", "none again")
    v = Validate({"smart": fake}, usage)
    origins = [(await v.answer(prompt(str(i)), "k")).origin for i in range(3)]
    assert origins == ["model", "repaired", "reasked"]
    with pytest.raises(ValueError):
        await v.answer(prompt("x"), "k")
    assert usage.total.repairs == 1 and usage.total.reasks == 2
    assert "none" in fake.calls[-1].messages[-2]["content"]  # the re-ask shows the answer
    mind = FakeLLM(lambda t, v: {"word": "o", "n": 1})
    mind.name = "offline"
    assert (await Validate({"smart": mind}, usage).answer(prompt(), "k")).origin == "offline"
    fast = FakeLLM(lambda t, v: {"word": "fast", "n": 1})
    routed = Validate({"smart": mind, "fast": fast}, usage)
    assert (await routed.answer(prompt(tier="fast"), "k")).value.word == "fast"
    assert (await routed.answer(prompt(tier="other"), "k")).origin == "offline"  # smart's


async def test_fallback_answers_with_the_mind_and_counts_it():
    usage = Usage()
    mind = FakeLLM(lambda t, v: {"word": "fb", "n": 0})
    dog = watchdog(failures=2)
    fb = Fallback(Stub(ValueError("bad"), BudgetExceeded("spent"), RetryableLLMError("500"),
                       RetryableLLMError("500")), mind, usage, dog)
    for _ in range(3):
        a = await fb.answer(prompt(), "k")
        assert (a.origin, a.value.word, a.completion.model) == ("fallback", "fb", "fallback")
    assert usage.total.fallbacks == 3 and dog.failed_in_a_row == 1
    with pytest.raises(LLMUnavailable, match="2 LLM calls in a row"):  # a dead server
        await fb.answer(prompt(), "k")


async def test_stop_halts_with_one_line_that_says_how_to_keep_going():
    dog = watchdog()
    stop = Stop(Stub(ValueError("no json"), answer()), dog)
    with pytest.raises(LLMUnavailable) as e:
        await stop.answer(prompt(), "k")
    assert "could not answer a 'echo' call" in str(e.value)
    assert "fallback is 'stop'" in str(e.value) and "--fallback offline" in str(e.value)
    assert "\n" not in str(e.value) and dog.gave_up == str(e.value)
    with pytest.raises(LLMUnavailable):  # every later call too, once stopped
        await Tracked(Watched(FakeLLM(lambda t, v: "x"), dog, 1), dog).complete(prompt())


async def test_cache_answers_what_it_holds_and_never_keeps_a_fallback(tmp_path):
    store = ResponseCache(tmp_path / "c.sqlite")
    inner = Stub(answer(word="a"), answer("fallback", "fb"), answer(word="b"))
    cache = Cache(inner, store)
    assert (await cache.answer(prompt(), "k1")).origin == "model"
    hit = await cache.answer(prompt(), "k1")
    assert (hit.origin, hit.value.word, inner.asked) == ("cache", "a", 1)
    assert (await cache.answer(prompt(), "k2")).origin == "fallback"
    assert (await cache.answer(prompt(), "k2")).value.word == "b"  # asked again
    store.close()


async def test_recording_writes_each_answer_with_its_origin_and_replay_reads_it(tmp_path):
    path = tmp_path / "llm.jsonl"
    rec = Recorder(path)
    recording = Recording(Stub(answer(word="a"), answer("fallback", "fb")), rec)
    await recording.answer(prompt("1"), "k1")
    await recording.answer(prompt("2"), "k2")
    rec.close()
    rows = [json.loads(x) for x in path.read_text().splitlines()]
    assert [(r["key"], r["origin"]) for r in rows] == [("k1", "model"), ("k2", "fallback")]
    assert json.loads(rows[0]["text"]) == {"word": "a", "n": 1}  # the validated answer
    replay = Replay(ReplaySource(path))
    again = await replay.answer(prompt("2"), "k2")
    assert (again.origin, again.value) == ("replay", Out(word="fb", n=1))


async def test_origins_counts_answers_and_stored_ones_as_cache_hits():
    usage = Usage()
    o = Origins(Stub(answer(), answer("cache"), answer("replay"), answer("fallback")), usage)
    for _ in range(4):
        await o.answer(prompt(), "k")
    t = usage.total
    assert t.origins == {"model": 1, "cache": 1, "replay": 1, "fallback": 1}
    assert t.cache_hits == 2 and usage.by_agent["ann"].origins == t.origins


# -- the composition ----------------------------------------------------------------------------
def _layers(x) -> list[str]:
    out = []
    while x is not None:
        out.append(type(x).__name__)
        x = x.calls["smart"] if isinstance(x, Validate) else getattr(x, "inner", None)
    return out


def test_the_factory_stacks_the_wrappers_in_one_order(tmp_path):
    from agentsim.llm.factory import client_for

    backend = FakeLLM(lambda t, v: "x")
    backend.concurrency = 1
    c = client_for(backend, recorder=Recorder(tmp_path / "l.jsonl"),
                   cache=ResponseCache(tmp_path / "c.sqlite"), fallback=FakeLLM(str))
    assert _layers(c.answerer) == [
        "Origins", "Recording", "Cache", "Fallback", "Validate", "Tracked", "Retry",
        "Budgeted", "Gate", "Bounded", "Watched", "Metered", "FakeLLM"]
    assert _layers(client_for(backend, fallback_policy="stop").answerer)[:3] == \
        ["Origins", "Stop", "Validate"]
    assert _layers(client_for(FakeLLM(str)).answerer)[:3] == ["Origins", "Validate", "Tracked"]
    replay = tmp_path / "r.jsonl"
    replay.write_text("")
    assert _layers(client_for(backend, replay=ReplaySource(replay)).answerer) == \
        ["Origins", "Replay"]
    assert isinstance(c, LLM)  # the whole protocol, nothing to probe for


def test_the_fallback_is_off_for_a_model_unless_asked_for():
    from agentsim.llm.factory import build_llm, client_for

    assert build_llm("vllm:m").describe()["fallback"] == "stop"
    assert "Stop" in _layers(build_llm("vllm:m").answerer)
    asked = build_llm("vllm:m", fallback="offline")
    assert asked.describe()["fallback"] == "offline" and "Fallback" in _layers(asked.answerer)
    # the offline mind as the run's mind is its own fallback, as it always was
    assert build_llm("offline").describe()["fallback"] == "offline"
    with pytest.raises(ValueError, match="needs a fallback backend"):
        client_for(FakeLLM(str), fallback_policy="offline")
