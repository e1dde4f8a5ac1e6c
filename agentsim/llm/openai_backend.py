"""The OpenAI-compatible backend: OpenAI, Ollama, vLLM, llama.cpp's server, LM Studio.

Structured output is asked for with `response_format` = json_schema. Local servers differ:
some reject it with a 400, some ignore it. On a 400 that names the response format, the
backend steps down (json_schema -> json_object -> plain prompt instructions) and remembers
that for the rest of the run; the client validates every answer either way.
"""

from __future__ import annotations

from typing import Any

import openai
from openai.types.chat import ChatCompletion

from agentsim.llm.base import Completion, Prompt
from agentsim.llm.errors import FatalLLMError, RetryableLLMError

MODES = ("json_schema", "json_object", "none")


class RequestRejected(ValueError):
    """The server refused this request (e.g. too long): no retry helps; the client falls back."""


def _retry_after(headers: Any) -> float | None:
    if headers is None:
        return None
    ms = headers.get("retry-after-ms")
    if ms:
        try:
            return float(ms) / 1000
        except ValueError:
            pass
    s = headers.get("retry-after")
    try:
        return float(s) if s else None
    except ValueError:
        return None


def _about_format(err: openai.BadRequestError) -> bool:
    text = str(err).lower()
    return any(w in text for w in ("response_format", "json_schema", "json_object", "schema",
                                   "grammar", "guided"))


class OpenAIBackend:
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
            raise ValueError(f"structured must be auto or one of {MODES}")
        self.send_request_meta = send_request_meta
        self.client = openai.AsyncOpenAI(
            base_url=base_url, api_key=api_key or "local", max_retries=0, timeout=timeout
        )

    def _response_format(self, prompt: Prompt) -> dict[str, Any] | None:
        if prompt.json_schema is None or self.mode == "none":
            return None
        if self.mode == "json_object":
            return {"type": "json_object"}
        return {"type": "json_schema", "json_schema": {
            "name": prompt.schema_name or "answer", "schema": prompt.json_schema,
            "strict": False}}

    async def complete(self, prompt: Prompt) -> Completion:
        while True:
            kwargs: dict[str, Any] = {
                "model": self.model,
                "messages": [dict(m) for m in prompt.messages],
                "temperature": prompt.temperature,
                "max_tokens": prompt.max_tokens,
                "seed": prompt.seed,
            }
            fmt = self._response_format(prompt)
            if fmt is not None:
                kwargs["response_format"] = fmt
            if self.send_request_meta:
                kwargs["agentsim"] = {"template_id": prompt.template_id,
                                      "variables": prompt.variables}
            try:
                # The client's plain POST: the same request, errors and retries policy as
                # chat.completions.create, without its per-request walk over the params
                # (about 1 ms a call, which adds up when hundreds are in flight).
                resp = await self.client.post("/chat/completions", body=kwargs,
                                              cast_to=ChatCompletion)
            except openai.BadRequestError as e:
                if fmt is not None and _about_format(e):
                    self.mode = MODES[MODES.index(self.mode) + 1]
                    continue
                raise RequestRejected(f"{self.name} rejected the request: {e}") from None
            except openai.RateLimitError as e:
                raise RetryableLLMError("429 rate limited",
                                        _retry_after(e.response.headers)) from None
            except (openai.AuthenticationError, openai.PermissionDeniedError) as e:
                raise FatalLLMError(f"{self.name} refused the API key ({e.status_code}): check "
                                    f"OPENAI_API_KEY") from None
            except openai.NotFoundError:
                raise FatalLLMError(
                    f"{self.name} has no model {self.model!r} at {self.base_url or 'the API'}"
                    + (f" (try `ollama pull {self.model}`)" if self.name == "ollama" else "")
                ) from None
            except openai.APIStatusError as e:
                if e.status_code in (408, 409) or e.status_code >= 500:
                    raise RetryableLLMError(f"{e.status_code} from {self.name}",
                                            _retry_after(e.response.headers)) from None
                raise RequestRejected(f"{e.status_code} from {self.name}: {e}") from None
            except (openai.APITimeoutError, openai.APIConnectionError) as e:
                raise RetryableLLMError(f"{type(e).__name__}: {e}") from None
            return self._completion(resp, prompt)

    def _completion(self, resp: Any, prompt: Prompt) -> Completion:
        choice = resp.choices[0] if resp.choices else None
        text = (choice.message.content or "") if choice else ""
        usage = resp.usage
        pt = usage.prompt_tokens if usage else sum(len(m["content"]) for m in prompt.messages) // 4
        ct = usage.completion_tokens if usage else len(text) // 4
        return Completion(text, pt, ct, resp.model or self.model, extra={"mode": self.mode})

    async def aclose(self) -> None:
        await self.client.close()


async def check_reachable(base_url: str | None, api_key: str | None, provider: str,
                          timeout: float = 5.0) -> str | None:
    """None if the server answers GET /models, else one line saying what to do."""
    from agentsim.llm.config import HINTS

    client = openai.AsyncOpenAI(base_url=base_url, api_key=api_key or "local", max_retries=0,
                                timeout=timeout)
    try:
        await client.models.list()
    except (openai.APIConnectionError, openai.APITimeoutError):
        hint = HINTS.get(provider, "check the URL")
        return f"cannot reach {base_url or 'the OpenAI API'} ({hint})"
    except openai.AuthenticationError:
        return f"{provider} refused the API key: check OPENAI_API_KEY"
    except openai.APIStatusError:
        return None  # it answered: some servers have no /models, which is fine
    finally:
        await client.close()
    return None

