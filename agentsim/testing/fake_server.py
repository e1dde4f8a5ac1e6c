"""A fake OpenAI-compatible server on 127.0.0.1, for tests and benchmarks.

It speaks just enough HTTP/1.1 (keep-alive, Content-Length) for `POST /v1/chat/completions`
and `GET /v1/models`, runs its own asyncio loop in a thread, sleeps `latency` seconds per
request (so hundreds can be in flight at once), and injects faults on a seeded share of
requests: "429" (with Retry-After), "500", "hang" (no answer for a long time), "malformed"
(fenced, wrapped in chatter, or cut in half), "html" (status 200 with an HTML page, as a proxy
or a captive portal sends). With `reject_json_schema=True` it answers a `response_format` of
type json_schema with a 400, as some local servers do. With `llamacpp_python=True` it acts as
llama-cpp-python's server: a json_schema response format is a 500 whose body names
`response_format` (its pydantic error), `{"type": "json_object", "schema": S}` is answered
with JSON that validates against S (the grammar enforces it), and a bare json_object gets some
JSON object, not necessarily the schema's. `formats` lists the response format of every chat
request (None when there was none). With `die_after=N` it answers N chat
requests, then dies: it stops listening and drops every connection without an answer. With
`hang_after=N` it answers N chat requests, then hangs on every one after them.
A handler may set its own `content-type` in the extra headers it returns.

With the `agentsim` meta field (OpenAIBackend's `send_request_meta=True`) it answers through
`responder(template_id, variables)` or `responder(template_id, variables, request_body)`
(sync or async; a dict, a pydantic model or text); by default that is the offline mind, so
a whole simulation can run against it. Without the meta field it answers a minimal valid
instance of the requested JSON schema (`example_for`), or a short text.
"""

from __future__ import annotations

import asyncio
import inspect
import json
import random
import threading
import time
from collections import Counter
from collections.abc import Callable, Mapping
from typing import Any

from agentsim.testing.schema_example import example_for

__all__ = ["FakeOpenAIServer", "example_for"]

Responder = Callable[..., Any]  # (template_id, variables[, request_body]) -> dict | model | str
FAULTS = ("429", "500", "hang", "malformed", "html")
# What llama-cpp-python's server (0.3) answers to a response_format of type json_schema.
LLAMACPP_PYTHON_500 = (
    "1 validation error:\n  {{'type': 'literal_error', 'loc': ('body', 'response_format', "
    "'type'), 'msg': \"Input should be 'text' or 'json_object'\", 'input': '{}', 'ctx': "
    "{{'expected': \"'text' or 'json_object'\"}}}}\n\n  File \"llama_cpp/server/app.py\", "
    "line 376, in create_chat_completion\n    POST /v1/chat/completions")
HTML_PAGE = ("<!DOCTYPE html>\n<html><head><title>502 Bad Gateway</title></head>\n"
             "<body><h1>Bad Gateway</h1><p>The upstream server is down.</p></body></html>\n")


class FakeOpenAIServer:
    """`with FakeOpenAIServer(responder, latency=0.2, faults={"429": 0.05}) as server:` then
    point an OpenAIBackend at `server.base_url`. Counters: requests, in_flight,
    max_in_flight, by_status (e.g. `by_status["429"]`); `reset_stats()` zeroes them."""

    def __init__(
        self,
        responder: Responder | None = None,
        *,
        latency: float = 0.0,
        faults: Mapping[str, float] | None = None,
        seed: int = 0,
        reject_json_schema: bool = False,
        llamacpp_python: bool = False,
        hang_seconds: float = 3600.0,
        die_after: int | None = None,
        hang_after: int | None = None,
    ):
        if responder is None:
            from agentsim.llm.offline import OfflineMind

            mind = OfflineMind()
            responder = lambda tid, v: mind.answer(tid, v, 0)  # noqa: E731
        self.responder = responder
        self._responder_wants_body = _arity(responder) >= 3
        self.latency = latency
        self.faults = dict(faults or {})
        unknown = set(self.faults) - set(FAULTS)
        if unknown or sum(self.faults.values()) > 1:
            raise ValueError(f"faults: shares of {', '.join(FAULTS)} summing to at most 1")
        self.rng = random.Random(seed)
        self.reject_json_schema = reject_json_schema
        self.llamacpp_python = llamacpp_python
        self.hang_seconds = hang_seconds
        self.die_after = die_after
        self.hang_after = hang_after
        self.dead = False
        self.port = 0
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._server: asyncio.AbstractServer | None = None
        self._ready = threading.Event()
        self.in_flight = 0
        self.reset_stats()

    # -- lifecycle --------------------------------------------------------------------------
    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def start(self) -> FakeOpenAIServer:
        self._thread = threading.Thread(target=self._run, name="fake-openai", daemon=True)
        self._thread.start()
        if not self._ready.wait(10):
            raise RuntimeError("fake server did not start")
        return self

    def stop(self) -> None:
        if self._loop is not None and self._server is not None:
            async def shutdown() -> None:
                self._server.close()
                for task in asyncio.all_tasks():
                    if task is not asyncio.current_task():
                        task.cancel()

            asyncio.run_coroutine_threadsafe(shutdown(), self._loop).result(10)
            self._loop.call_soon_threadsafe(self._loop.stop)
        if self._thread is not None:
            self._thread.join(10)

    def __enter__(self) -> FakeOpenAIServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def reset_stats(self) -> None:
        """Zero the counters: requests, max_in_flight, by_status (`in_flight` stays live)."""
        self.requests = 0
        self.max_in_flight = self.in_flight
        self.by_status: Counter[str] = Counter()
        self.started: list[float] = []
        self.formats: list[dict[str, Any] | None] = []

    def _run(self) -> None:
        self._loop = asyncio.new_event_loop()
        asyncio.set_event_loop(self._loop)

        async def serve() -> None:
            self._server = await asyncio.start_server(self._conn, "127.0.0.1", 0, backlog=1024)
            self.port = self._server.sockets[0].getsockname()[1]
            self._ready.set()

        self._loop.run_until_complete(serve())
        self._loop.run_forever()
        self._loop.close()

    # -- HTTP -------------------------------------------------------------------------------
    async def _conn(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                lines = head.decode("latin-1").split("\r\n")
                method, path, _ = lines[0].split(" ", 2)
                headers = {k.strip().lower(): v.strip() for k, _, v in
                           (x.partition(":") for x in lines[1:] if x)}
                body = await reader.readexactly(int(headers.get("content-length", "0")))
                if self._dies(method, path):
                    break  # no answer: the connection drops
                status, extra, payload = await self._handle(method, path, body)
                data = payload.encode()
                extra = {"content-type": "application/json", **extra}
                hdrs = "".join(f"{k}: {v}\r\n" for k, v in extra.items())
                writer.write(
                    f"HTTP/1.1 {status} X\r\n"
                    f"content-length: {len(data)}\r\n{hdrs}\r\n".encode() + data
                )
                await writer.drain()
                if headers.get("connection", "").lower() == "close":
                    break
        except (asyncio.IncompleteReadError, ConnectionError, asyncio.CancelledError):
            pass
        finally:
            writer.close()

    def _dies(self, method: str, path: str) -> bool:
        """True once the server is dead (`die_after` chat requests answered): it stops
        listening, so new connections are refused, and drops the ones it has."""
        if not self.dead and self.die_after is not None and method == "POST" \
                and path.endswith("/chat/completions") and self.requests >= self.die_after:
            self.dead = True
            if self._server is not None:
                self._server.close()
        return self.dead

    async def _handle(self, method: str, path: str, body: bytes) -> tuple[int, dict, str]:
        if method == "GET" and path.endswith("/stats"):
            return 200, {}, json.dumps({"requests": self.requests,
                                        "max_in_flight": self.max_in_flight,
                                        "by_status": dict(self.by_status)})
        if method == "GET" and path.endswith("/models"):
            return 200, {}, json.dumps({"object": "list", "data": [
                {"id": "fake-model", "object": "model", "owned_by": "agentsim"}]})
        if not (method == "POST" and path.endswith("/chat/completions")):
            return 404, {}, json.dumps({"error": {"message": "not found"}})
        self.requests += 1
        self.in_flight += 1
        self.max_in_flight = max(self.max_in_flight, self.in_flight)
        self.started.append(time.perf_counter())
        try:
            status, extra, payload = await self._complete(json.loads(body))
        except Exception as e:  # a broken request (400) or responder (500): say so, stay up
            status, extra = 400 if isinstance(e, json.JSONDecodeError) else 500, {}
            payload = json.dumps({"error": {"message": f"{type(e).__name__}: {e}"}})
        finally:
            self.in_flight -= 1
        self.by_status[str(status)] += 1
        return status, extra, payload

    async def _complete(self, req: dict[str, Any]) -> tuple[int, dict, str]:
        fmt = req.get("response_format") or {}
        self.formats.append(req.get("response_format"))
        if self.reject_json_schema and fmt.get("type") == "json_schema":
            return 400, {}, json.dumps({"error": {
                "message": "response_format json_schema is not supported", "type": "invalid"}})
        if self.llamacpp_python and fmt.get("type") not in (None, "text", "json_object"):
            return 500, {}, json.dumps({"error": {
                "message": LLAMACPP_PYTHON_500.format(fmt.get("type")),
                "type": "internal_server_error", "param": None, "code": None}})
        fault = self._fault()
        if fault == "hang" or (self.hang_after is not None and self.requests > self.hang_after):
            await asyncio.sleep(self.hang_seconds)
        t0 = time.perf_counter()
        text = await self._answer(req)
        # `latency` is the whole time the server takes, its own work included.
        await asyncio.sleep(max(0.0, self.latency - (time.perf_counter() - t0)))
        if fault == "429":
            return 429, {"retry-after": "0.05", "retry-after-ms": "50"}, json.dumps(
                {"error": {"message": "slow down", "type": "rate_limit_exceeded"}})
        if fault == "500":
            return 500, {}, json.dumps({"error": {"message": "internal error"}})
        if fault == "html":
            return 200, {"content-type": "text/html; charset=utf-8"}, HTML_PAGE
        if fault == "malformed":
            text = self.rng.choice([f"```json\n{text}\n```", f"Sure! {text} Hope it helps.",
                                    text[: max(1, len(text) // 2)]])
        messages = req.get("messages", [])
        pt = sum(len(str(m.get("content", ""))) for m in messages) // 4
        ct = len(text) // 4
        return 200, {}, json.dumps({
            "id": f"fake-{self.requests}", "object": "chat.completion", "created": 0,
            "model": req.get("model", "fake-model"),
            "choices": [{"index": 0, "finish_reason": "stop",
                         "message": {"role": "assistant", "content": text}}],
            "usage": {"prompt_tokens": pt, "completion_tokens": ct, "total_tokens": pt + ct},
        })

    def _fault(self) -> str | None:
        r = self.rng.random()
        acc = 0.0
        for name, share in sorted(self.faults.items()):
            acc += share
            if r < acc:
                return name
        return None

    async def _answer(self, req: dict[str, Any]) -> str:
        meta = req.get("agentsim")
        if meta:
            args = (meta["template_id"], meta["variables"])
            out = self.responder(*args, req) if self._responder_wants_body else \
                self.responder(*args)
            if inspect.isawaitable(out):
                out = await out
            if hasattr(out, "model_dump_json"):
                return out.model_dump_json()
            return out if isinstance(out, str) else json.dumps(out)
        fmt = req.get("response_format") or {}
        if self.llamacpp_python and fmt.get("type") == "json_object":
            schema = fmt.get("schema")  # enforced when given; else any JSON object will do
            return json.dumps(example_for(schema) if schema else {"answer": "ok"})
        schema = (fmt.get("json_schema") or {}).get("schema") or fmt.get("schema") \
            or _schema_in_text(req)
        if schema:
            return json.dumps(example_for(schema))
        return "ok"


def _schema_in_text(req: dict[str, Any]) -> dict[str, Any] | None:
    """The JSON schema the client's instruction put on the last line of the last message
    (what a model reads when the server ignores, or was never sent, `response_format`)."""
    messages = req.get("messages") or [{}]
    last = str(messages[-1].get("content", "")).rstrip().rsplit("\n", 1)[-1]
    if not last.startswith("{"):
        return None
    try:
        schema = json.loads(last)
    except json.JSONDecodeError:
        return None
    return schema if isinstance(schema, dict) and "properties" in schema else None


def _arity(fn: Callable[..., Any]) -> int:
    try:
        params = inspect.signature(fn).parameters.values()
    except (TypeError, ValueError):
        return 2
    if any(p.kind is p.VAR_POSITIONAL for p in params):
        return 3
    return sum(p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD) for p in params)


def main() -> None:
    """`python -m agentsim.testing.fake_server --latency 0.2`: serve in a process of its own
    (as a real server would be), print the base URL, run until killed."""
    import argparse

    ap = argparse.ArgumentParser()
    ap.add_argument("--latency", type=float, default=0.0)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    server = FakeOpenAIServer(latency=args.latency, seed=args.seed).start()
    print(server.base_url, flush=True)
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        server.stop()


if __name__ == "__main__":
    main()
