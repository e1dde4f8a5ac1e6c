"""Concurrency against the fake OpenAI-compatible server, as wall time (the tests check the
same properties without a clock: tests/test_fake_server.py and tests/test_llm_openai.py hold
every answer until the requests they claim are in flight together).

    python benchmarks/bench_fake_server.py [--latency 0.2] [--connections 300] [--calls 30]

Two rows, each against a server that answers every request in `--latency` seconds:

- "server": `--connections` kept-alive connections, two requests each, sent with plain
  asyncio streams; the ideal is two latencies (every connection in flight at once);
- "client": `--calls` calls at once through the LLM client (OpenAIBackend, validation,
  accounting); the ideal is one latency.

For each: wall seconds, the ideal, the overhead, and the server's peak requests in flight.
A third row, "server at 0 s", is the server's own throughput (requests per second).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import tempfile
import time
from pathlib import Path

from pydantic import BaseModel

from agentsim.llm.factory import compose
from agentsim.llm.openai_backend import OpenAIBackend
from agentsim.llm.prompts import PromptLibrary
from agentsim.testing import FakeOpenAIServer


class Answer(BaseModel):
    word: str
    n: int


async def post_twice(port: int) -> None:
    """Two requests on one kept-alive connection (httpx's pool would be the slow part)."""
    body = json.dumps({"model": "m", "messages": [{"role": "user", "content": "hi"}]}).encode()
    request = (b"POST /v1/chat/completions HTTP/1.1\r\nhost: t\r\ncontent-type: "
               b"application/json\r\ncontent-length: %d\r\n\r\n%s" % (len(body), body))
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    for _ in range(2):
        writer.write(request)
        head = (await reader.readuntil(b"\r\n\r\n")).decode().split("\r\n")
        size = next(int(h.split(":")[1]) for h in head if h.lower().startswith("content-length"))
        await reader.readexactly(size)
    writer.close()


async def server_row(latency: float, connections: int) -> tuple[float, int]:
    with FakeOpenAIServer(latency=latency) as server:
        t0 = time.perf_counter()
        await asyncio.gather(*(post_twice(server.port) for _ in range(connections)))
        return time.perf_counter() - t0, server.max_in_flight


async def client_row(latency: float, calls: int) -> tuple[float, int]:
    with tempfile.TemporaryDirectory() as tmp, \
            FakeOpenAIServer(lambda t, v: {"word": "w", "n": 1}, latency=latency) as server:
        (Path(tmp) / "echo.j2").write_text("[system]\nYou are {{ who }}.\n[user]\n"
                                           "Say {{ what }}.\n")
        backend = OpenAIBackend("fake-model", base_url=server.base_url, name="compat",
                                send_request_meta=True)
        client = compose({"smart": backend, "fast": backend}, PromptLibrary(Path(tmp)),
                         rng=random.Random(0))
        await client.ask("echo", {"who": "x", "what": "warm"}, schema=Answer)  # connect once
        server.reset_stats()
        t0 = time.perf_counter()
        await asyncio.gather(*(client.ask("echo", {"who": "x", "what": str(i)}, schema=Answer)
                               for i in range(calls)))
        wall = time.perf_counter() - t0
        await client.aclose()
        return wall, server.max_in_flight


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--latency", type=float, default=0.2)
    ap.add_argument("--connections", type=int, default=300)
    ap.add_argument("--calls", type=int, default=30)
    args = ap.parse_args()
    print(f"$ python benchmarks/bench_fake_server.py --latency {args.latency:g} "
          f"--connections {args.connections} --calls {args.calls}")
    print(f"{'row':<14}{'requests':>9}{'wall s':>9}{'ideal s':>9}{'overhead':>10}"
          f"{'peak in flight':>16}")
    wall, peak = asyncio.run(server_row(args.latency, args.connections))
    ideal = 2 * args.latency
    print(f"{'server':<14}{2 * args.connections:>9}{wall:>9.2f}{ideal:>9.2f}"
          f"{wall / ideal - 1:>10.0%}{peak:>16}")
    wall, peak = asyncio.run(client_row(args.latency, args.calls))
    print(f"{'client':<14}{args.calls:>9}{wall:>9.2f}{args.latency:>9.2f}"
          f"{wall / args.latency - 1:>10.0%}{peak:>16}")
    wall, peak = asyncio.run(server_row(0.0, args.connections))
    print(f"{'server at 0 s':<14}{2 * args.connections:>9}{wall:>9.2f}{'-':>9}{'-':>10}"
          f"{peak:>16}   {2 * args.connections / wall:,.0f} requests/s")


if __name__ == "__main__":
    main()
