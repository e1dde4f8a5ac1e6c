"""The OpenAI-compatible backend: OpenAI, Ollama, vLLM, llama.cpp's server, LM Studio.

Structured output is asked for with `response_format` = json_schema. Local servers differ:
some reject it with a 400, some ignore it, and llama-cpp-python's server answers it with a
500 (it only knows `{"type": "json_object", "schema": ...}`, which it enforces with a
grammar). On a 400 or 5xx that names the response format, the backend steps down
(json_schema -> json_object_schema -> json_object -> plain prompt instructions), says so in one
log line, and remembers that for the rest of the run; the client validates every answer
either way. A bare 500 (no Retry-After) that names nothing, on a structured request before
any has succeeded in the current mode, is checked once by sending the same request without
`response_format`: if that one is answered, the format was the trouble and the backend steps
down (that answer is the model's own, validated like any other); if not, it was a server
error and is retried as one.
In the same way the backend drops `temperature` or `seed`, or sends `max_completion_tokens`,
when a model refuses them.

Errors map to RetryableLLMError (429, 408/409, 5xx, timeouts, connection errors, and a reply
that is not JSON at all, such as a proxy's HTML page sent with status 200), FatalLLMError
(401, 403, 404, no quota) and RequestRejected (any other 4xx, or JSON that is no chat
completion: this request only).
"""

from __future__ import annotations

import email.utils
import json
import logging
import time
from collections.abc import Callable, Mapping
from typing import Any

import openai
from openai.types.chat import ChatCompletion

from agentsim.errors import FatalLLMError, RequestRejected, RetryableLLMError
from agentsim.llm.base import Completion, Prompt

MODES = ("json_schema", "json_object_schema", "json_object", "none")
ENFORCED = ("json_schema", "json_object_schema")  # modes in which the server holds to the schema
# How each mode asks for JSON (json_object_schema is llama-cpp-python's and llama.cpp's form).
MODE_FORMS = {"json_schema": '{"type": "json_schema", ...}',
              "json_object_schema": '{"type": "json_object", "schema": ...}',
              "json_object": '{"type": "json_object"}', "none": "prompt instructions alone"}
_FORMAT_WORDS = ("response_format", "json_schema", "json_object", "schema", "grammar", "guided")

__all__ = ["MODES", "OpenAIBackend", "RequestRejected", "check_reachable"]

log = logging.getLogger("agentsim.llm")


def retry_after(headers: Mapping[str, str] | None) -> float | None:
    """Seconds to wait from `retry-after-ms` or `retry-after` (seconds or an HTTP date)."""
    if headers is None:
        return None
    ms = headers.get("retry-after-ms")
    if ms:
        try:
            return max(0.0, float(ms) / 1000)
        except ValueError:
            pass
    s = headers.get("retry-after")
    if not s:
        return None
    try:
        return max(0.0, float(s))
    except ValueError:
        pass
    try:
        return max(0.0, email.utils.parsedate_to_datetime(s).timestamp() - time.time())
    except (TypeError, ValueError):
        return None


class OpenAIBackend:
    """A Backend over `openai.AsyncOpenAI` (no SDK retries: the client retries)."""

    def __init__(
        self,
        model: str,
        *,
        base_url: str | None = None,
        api_key: str | None = None,
        name: str = "openai",
        timeout: float = 60.0,
        structured: str = "auto",
        send_request_meta: bool = False,
    ):
        self.model = model
        self.name = name
        self.base_url = base_url
        self.mode = "json_schema" if structured == "auto" else structured
        if self.mode not in MODES:
            raise ValueError(f"structured must be auto or one of {', '.join(MODES)}")
        self.send_request_meta = send_request_meta  # tests only: the fake server reads it
        self.dropped: set[str] = set()  # parameters this model refused: temperature, seed
        self.max_tokens_param = "max_tokens"
        self.format_ok = False  # a structured request has been answered in the current mode
        self._probed: set[str] = set()  # modes whose wordless 5xx was checked with a plain ask
        self.switches: list[str] = []  # the one-line notes of each step down, in order
        self.client = openai.AsyncOpenAI(
            base_url=base_url, api_key=api_key or "local", max_retries=0, timeout=timeout
        )

    def _response_format(self, prompt: Prompt, mode: str) -> dict[str, Any] | None:
        if prompt.json_schema is None or mode == "none":
            return None
        if mode == "json_object":
            return {"type": "json_object"}
        if mode == "json_object_schema":
            return {"type": "json_object", "schema": prompt.json_schema}
        return {"type": "json_schema", "json_schema": {
            "name": prompt.schema_name or "answer", "schema": prompt.json_schema,
            "strict": False}}

    def _messages(self, prompt: Prompt, mode: str) -> tuple[Mapping[str, str], ...]:
        """The schema goes once where the model reads it: OpenAI's own API shows a
        `json_schema` response format to the model, so the prompt leaves it out there. Local
        servers (llama.cpp, vLLM, Ollama, LM Studio) enforce a schema with a grammar the
        model never reads: with the grammar alone, SmolLM2 rambled to its token limit (decompose
        went from 7 of 8 model answers to 0 of 8), so their prompts show the format as each
        template's contract chooses (`Contract.shown`: the example, a compact shape, or
        nothing where the model copied the example). Without a schema enforced (json_object,
        none) the prompt carries the full example."""
        openai_api = self.base_url is None or "api.openai.com" in self.base_url
        if mode == "json_schema" and openai_api:
            return prompt.messages
        return prompt.instructed(grammar=mode in ("json_schema", "json_object_schema"))

    def _body(self, prompt: Prompt, mode: str) -> dict[str, Any]:
        body: dict[str, Any] = {
            "model": self.model,
            "messages": [dict(m) for m in self._messages(prompt, mode)],
            self.max_tokens_param: prompt.max_tokens,
            "temperature": prompt.temperature,
            "seed": prompt.seed,  # some servers ignore it
        }
        for p in self.dropped:
            body.pop(p, None)
        fmt = self._response_format(prompt, mode)
        if fmt is not None:
            body["response_format"] = fmt
        if self.send_request_meta:
            body["agentsim"] = {"template_id": prompt.template_id,
                                "variables": prompt.variables}
        return body

    async def complete(self, prompt: Prompt) -> Completion:
        for _ in range(8):  # each pass gives up one refused parameter; there are few
            mode = self.mode
            try:
                # The client's plain POST: the same request, errors and retry policy as
                # chat.completions.create, without its per-request walk over the params
                # (about 1 ms a call, which adds up when hundreds are in flight).
                resp = await self.client.post("/chat/completions", body=self._body(prompt, mode),
                                              cast_to=ChatCompletion)
            except openai.BadRequestError as e:
                if self._adapt(e, prompt, mode):
                    continue
                raise RequestRejected(f"{self.name} rejected the request: {e}") from None
            except openai.APIStatusError as e:
                if e.status_code >= 500 and prompt.json_schema is not None and mode != "none":
                    if _names_format(e):
                        self._step_down(mode, e)
                        continue
                    if e.status_code == 500 and retry_after(e.response.headers) is None \
                            and not self.format_ok and mode == self.mode \
                            and mode not in self._probed:  # not a 503 "busy, come back"
                        self._probed.add(mode)
                        plain = await self._probe_plain(prompt)
                        if plain is not None:
                            self._step_down(mode, e)
                            return plain
                raise self._status_error(e) from None
            except (openai.APITimeoutError, openai.APIConnectionError) as e:
                raise RetryableLLMError(f"{type(e).__name__}: {e}") from None
            except openai.APIResponseValidationError as e:
                raise RequestRejected(f"{self.name} sent an unreadable response: {e}") from None
            except openai.APIError as e:
                raise RetryableLLMError(f"{type(e).__name__}: {e}") from None
            if not isinstance(resp, ChatCompletion):  # the SDK hands over non-JSON as it came
                raise RetryableLLMError(f"{self.name} answered with something that is not a "
                                        f"chat completion: {_snippet(resp)}")
            if prompt.json_schema is not None and mode == self.mode:
                self.format_ok = True
            try:
                return self._completion(resp, prompt, mode)
            except (AttributeError, TypeError, IndexError, KeyError, ValueError) as e:
                raise RequestRejected(f"{self.name} sent an unreadable chat completion "
                                      f"({type(e).__name__}: {e})") from None
        raise RequestRejected(f"{self.name} kept rejecting the request")

    def _adapt(self, e: openai.BadRequestError, prompt: Prompt, mode: str) -> bool:
        """Change what we send after a 400 that names a parameter; False if nothing helps.
        A downgrade is decided against the mode the failed request used, so concurrent
        failures step down once, not once each."""
        text, param = str(e).lower(), (e.param or "").lower()
        if prompt.json_schema is not None and mode != "none" and (
                param == "response_format" or any(w in text for w in _FORMAT_WORDS)):
            self._step_down(mode, e)
            return True
        if param == "max_tokens" or ("max_tokens" in text and "max_completion_tokens" in text):
            if self.max_tokens_param == "max_completion_tokens":
                return False
            self.max_tokens_param = "max_completion_tokens"
            return True
        for p in ("temperature", "seed"):
            if p not in self.dropped and (param == p or f"'{p}'" in text or f"`{p}`" in text):
                self.dropped.add(p)
                return True
        return False

    def _step_down(self, mode: str, e: openai.APIStatusError) -> None:
        """The next mode after `mode`, said in one log line; nothing if another request has
        already stepped down from it."""
        if self.mode != mode or mode == "none":
            return
        self.mode = MODES[MODES.index(mode) + 1]
        self.format_ok = False
        note = (f"{self.name} at {self.base_url or 'the OpenAI API'} refused response_format "
                f"{MODE_FORMS[mode]} ({e.status_code}: {_snippet(_message(e))}): asking for "
                f"JSON with {MODE_FORMS[self.mode]} from now on")
        self.switches.append(note)
        log.warning("%s", note)

    async def _probe_plain(self, prompt: Prompt) -> Completion | None:
        """The request without response_format: its answer if the server gives one."""
        try:
            resp = await self.client.post("/chat/completions", body=self._body(prompt, "none"),
                                          cast_to=ChatCompletion)
            return self._completion(resp, prompt, "none") if isinstance(
                resp, ChatCompletion) else None
        except Exception:  # any failure: the 5xx was the server's, not the format's
            return None

    def _status_error(self, e: openai.APIStatusError) -> Exception:
        status, where = e.status_code, self.base_url or "the OpenAI API"
        if status == 429 and e.code == "insufficient_quota":
            return FatalLLMError(f"{self.name} says the account has no quota left ({where})")
        if status in (408, 409, 429) or status >= 500:
            return RetryableLLMError(f"{status} from {self.name}", retry_after(e.response.headers))
        if status in (401, 403):
            fix = "check OPENAI_API_KEY" if self.name == "openai" else f"server: {where}"
            return FatalLLMError(f"{self.name} refused the API key ({status}): {fix}")
        if status == 404:
            hint = f" (try `ollama pull {self.model}`)" if self.name == "ollama" else ""
            return FatalLLMError(f"{self.name} at {where} has no model {self.model!r}, or the "
                                 f"URL is wrong (404){hint}")
        return RequestRejected(f"{status} from {self.name}: {e}")

    def _completion(self, resp: ChatCompletion, prompt: Prompt, mode: str) -> Completion:
        choice = resp.choices[0] if resp.choices else None  # a lenient parse: may be None
        text = getattr(getattr(choice, "message", None), "content", None) or ""
        if not isinstance(text, str):  # e.g. a list of parts, or an object
            text = json.dumps(text, ensure_ascii=False, default=str)
        usage = getattr(resp, "usage", None)
        pt = getattr(usage, "prompt_tokens", None)
        ct = getattr(usage, "completion_tokens", None)
        if not (isinstance(pt, int) and pt and isinstance(ct, int)):
            # some servers report no usage: estimate at 4 characters a token
            sent = self._messages(prompt, mode)
            pt, ct = sum(len(m["content"]) for m in sent) // 4, len(text) // 4
        model = getattr(resp, "model", None)
        model = model if isinstance(model, str) and model else self.model
        return Completion(text, pt, ct, model,
                          extra={"mode": mode if prompt.json_schema is not None else "none",
                                 "finish_reason": getattr(choice, "finish_reason", None)})

    async def aclose(self) -> None:
        await self.client.close()


def _message(e: openai.APIStatusError) -> str:
    """The error's own message (from the body when the server sent JSON)."""
    body = e.body
    if isinstance(body, dict):
        inner = body.get("error", body)
        msg = inner.get("message") if isinstance(inner, dict) else inner
        if msg:
            return str(msg)
    return str(e.message or e)


def _names_format(e: openai.APIStatusError) -> bool:
    """Whether an error names the response format (e.g. llama-cpp-python's 500: "'loc':
    ('body', 'response_format', 'type') ... Input should be 'text' or 'json_object'")."""
    text = f"{_message(e)} {e.param or ''}".lower()
    return any(w in text for w in _FORMAT_WORDS)


def _snippet(reply: object) -> str:
    """The start of an odd reply, on one line (e.g. `<!DOCTYPE html> <html><head>...`)."""
    text = " ".join(str(reply).split())
    return repr(text[:80] + ("..." if len(text) > 80 else ""))


# what to try when a provider's server cannot be reached
HINTS = {
    "openai": "check the network, or OPENAI_BASE_URL",
    "ollama": "is Ollama running? `ollama serve`, then `ollama pull MODEL`",
    "vllm": "is vLLM running? `vllm serve MODEL`",
    "llamacpp": "is llama.cpp's server running? `llama-server -m model.gguf` (port 8080; "
                "for llama-cpp-python's server, on port 8000, use llamacpp-python:MODEL)",
    "llamacpp-python": "is llama-cpp-python's server running? "
                       "`python -m llama_cpp.server --model model.gguf` (port 8000)",
    "lmstudio": "is LM Studio's local server started?",
}


async def check_reachable(base_url: str | None, api_key: str | None, provider: str,
                          timeout: float = 5.0,
                          notify: Callable[[str], None] | None = None) -> str | None:
    """None if the server answers GET /models, else one line saying what to do. A server
    that accepts the connection but does not answer in time counts as reachable and busy (a
    single-slot server answers nothing while it generates): `notify` is told so in one line."""
    client = openai.AsyncOpenAI(base_url=base_url, api_key=api_key or "local", max_retries=0,
                                timeout=timeout)
    try:
        await client.models.list()
    except openai.APITimeoutError as e:
        if type(e.__cause__).__name__ == "ConnectTimeout":  # httpx's or httpx2's: no server
            hint = HINTS.get(provider, "check the URL")
            return f"cannot reach {base_url or 'the OpenAI API'} ({hint})"
        note = (f"{provider} at {base_url or 'the OpenAI API'} took the connection but did not "
                f"answer GET /models within {timeout:g}s: taking it as busy, not down")
        (notify or log.warning)(note)
    except openai.APIConnectionError:
        hint = HINTS.get(provider, "check the URL")
        return f"cannot reach {base_url or 'the OpenAI API'} ({hint})"
    except (openai.AuthenticationError, openai.PermissionDeniedError):
        return (f"{provider} refused the API key: check OPENAI_API_KEY" if provider == "openai"
                else f"{provider} at {base_url} refused the API key")
    except openai.APIStatusError:
        return None  # it answered: some servers have no /models, which is fine
    finally:
        await client.close()
    return None
