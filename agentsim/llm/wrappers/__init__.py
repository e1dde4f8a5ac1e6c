"""The LLM layer as small wrappers, composed in `agentsim.llm.factory.compose`.

Two kinds. Wrappers of a Backend are Backends (`complete(Prompt) -> Completion`), one stack
per provider edge; the rest deal in validated answers (`Answerer.answer(prompt, key) ->
Answer`), one stack per client. From the outside in:

    Origins      count each answer by who gave it              metering.py
    Recording    write it to the run's llm.jsonl               stored.py
    Cache        the cache shared across runs                  stored.py
    Fallback     the offline mind answers (--fallback offline) fallback.py
      or Stop    the run stops cleanly (--fallback stop)
    Validate     parse, repair, re-ask once; route by tier     validate.py
      -- per backend --
    Tracked      an outage is timed while a call is tried      watchdog.py
    Retry        backoff with full jitter (the rng passed in)  retry.py
    Budgeted     a spent budget makes no call                  budget.py
    Gate         the backend's own limit (concurrency=1)       gate.py
    Bounded      the run's slots (max_in_flight)               gate.py
    Watched      the timeout; giving up on a server            watchdog.py
    Metered      calls, tokens, latency, dollars               metering.py
    the backend

A replay's stack is `Origins` over `Replay` (no call, no record, no cache).
"""

from agentsim.llm.wrappers.budget import Budgeted
from agentsim.llm.wrappers.fallback import Fallback, Stop
from agentsim.llm.wrappers.gate import Bounded, Gate, InFlight
from agentsim.llm.wrappers.layer import Layer
from agentsim.llm.wrappers.metering import Metered, Origins
from agentsim.llm.wrappers.retry import Retry
from agentsim.llm.wrappers.stored import Cache, Recording, Replay
from agentsim.llm.wrappers.validate import Validate
from agentsim.llm.wrappers.watchdog import Tracked, Watchdog, Watched

__all__ = [
           "Bounded",
           "Budgeted",
           "Cache",
           "Fallback",
           "Gate",
           "InFlight",
           "Layer",
           "Metered",
           "Origins",
           "Recording",
           "Replay",
           "Retry",
           "Stop",
           "Tracked",
           "Validate",
           "Watchdog",
           "Watched",
]
