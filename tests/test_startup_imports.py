"""Two threads importing one package at once can leave one of them with a half-initialised
module ("partially initialized module 'httpx' has no attribute 'Response'"). A run's start-up
imports the OpenAI SDK's HTTP stack on the main thread before its threads start, and the
threads import chromadb and sentence-transformers (opening a client, loading the model)
behind one lock: no two threads ever import these packages at once."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

# Run in a fresh interpreter (nothing imported yet): a spy on the import system notes the
# thread of every import of a watched package, and how many of the run's own threads (asyncio's
# to_thread workers, the embedder's) had started by then.
SCRIPT = textwrap.dedent("""
    import importlib.abc, json, sys, threading
    WATCH = {"openai", "httpx", "httpx2", "httpcore", "httpcore2", "anyio", "chromadb",
             "sentence_transformers", "transformers", "huggingface_hub", "torch"}
    seen, started = [], []

    class Spy(importlib.abc.MetaPathFinder):
        def find_spec(self, name, path, target=None):
            if name.split(".")[0] in WATCH and name not in sys.modules:
                lock = getattr(sys.modules.get("agentsim.preload"), "IMPORT_LOCK", None)
                seen.append((name, threading.current_thread().name, len(started),
                             lock is not None and lock._is_owned()))
            return None

    sys.meta_path.insert(0, Spy())
    _start = threading.Thread.start

    def start(self):
        if self.name.startswith(("asyncio_", "agentsim-")):  # the run's own threads
            started.append(self.name)
        return _start(self)

    threading.Thread.start = start

    from agentsim.testing import FakeOpenAIServer
    server = FakeOpenAIServer().start()
    from agentsim.experiment import Simulation
    sim = Simulation.load(sys.argv[1], seed=1, embedder=sys.argv[2],
                          llm=f"compat:fake-model@{server.base_url}")
    sim.read("Isabella Rodriguez", sim.knowledge.documents()[0])  # the knowledge base opens
    sim.clock.tick = 12
    sim.run(ticks=1)  # live LLM calls, the skill library, embeddings
    sim.close()
    server.stop()
    print(json.dumps({"seen": seen, "threads": started}))
""")


def _imports(tmp_path: Path, embedder: str) -> dict:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "HF_HUB_OFFLINE": "1",
           "TRANSFORMERS_OFFLINE": "1"}
    out = subprocess.run([sys.executable, "-c", SCRIPT, str(ROOT / "worlds" / "smallville"),
                          embedder], capture_output=True, text=True, env=env, cwd=tmp_path,
                         timeout=300)
    assert out.returncode == 0, out.stderr[-3000:]
    return json.loads(out.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize("embedder", ["hash", pytest.param("minilm", marks=pytest.mark.slow)])
def test_heavy_packages_are_imported_on_the_main_thread_before_any_thread_starts(
        tmp_path, embedder):
    found = _imports(tmp_path, embedder)
    seen = found["seen"]
    assert found["threads"], "the run started no thread: nothing was checked"
    first = {name: (thread, threads) for name, thread, threads, _ in reversed(seen)}
    # the OpenAI SDK's stack, its first request's imports included: on the main thread,
    # before the run's threads start
    for name in ("openai", "anyio", "anyio._backends._asyncio"):
        assert first[name] == ("MainThread", 0), (name, first[name])
    # the threads' packages: behind the lock
    locked = {name for name, _, _, lock in seen if lock}
    assert "chromadb" in locked
    if embedder == "minilm":
        assert {"sentence_transformers", "transformers"} <= locked
    # and everything else is imported on the main thread before any thread started, or
    # behind the one import lock: never by two threads at once
    racy = [(name, thread) for name, thread, threads, locked in seen
            if not locked and (thread != "MainThread" or threads)]
    assert not racy, f"imported with threads running, not behind the lock: {racy[:10]}"


def test_an_offline_run_never_imports_the_openai_sdk(tmp_path):
    """`import openai` costs most of a second; a run on the offline mind has no server to
    talk to, so neither the run (its reachability check included) nor an interview of it
    imports the SDK."""
    script = textwrap.dedent("""
        import sys
        from agentsim.cli import main
        for argv in (["run", sys.argv[1], "--ticks", "1", "--llm", "offline",
                      "--embedder", "hash", "--out", "runs", "--headless"],):
            try:
                main(argv)
            except SystemExit as e:
                assert not e.code, e.code
        assert "openai" not in sys.modules, "an offline run imported openai"
        import glob
        from agentsim.experiment import Simulation
        sim = Simulation.open(glob.glob("runs/smallville-*")[0])
        sim.interview("Isabella Rodriguez", "What are you doing today?")
        sim.close()
        assert "openai" not in sys.modules, "interviewing an offline run imported openai"
        print("ok")
    """)
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    out = subprocess.run([sys.executable, "-c", script, str(ROOT / "worlds" / "smallville")],
                         capture_output=True, text=True, env=env, cwd=tmp_path, timeout=300)
    assert out.returncode == 0, out.stderr[-3000:]
    assert out.stdout.strip().endswith("ok")
