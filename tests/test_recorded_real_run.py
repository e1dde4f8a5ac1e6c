"""Runs driven by a real model, recorded and replayed in every test run: the packaged
SmolLM2-135M-Instruct (`--llm local`) ran the small world for two sim-hours
(tests/fixtures/smollm2_run/) and Smallville's 25 residents for its first sim-hour
(tests/fixtures/smollm2_smallville/); their answers (`llm.jsonl`) are shipped. A replay needs
no model and no llama-cpp-python, so the real-answer path (odd JSON, odd names, odd places,
answers refused by validation and counted as fallbacks) is exercised in seconds everywhere.

Made with (then the manifest, events.jsonl and llm.jsonl copied):
    agentsim run tests/fixtures/tiny_world --llm local --hours 2 --headless --seed 0 \\
        --embedder hash --out runs --fallback offline --give-up-after 0
    agentsim run worlds/smallville --llm local --hours 1 --headless --seed 0 \\
        --embedder hash --out runs --fallback offline --give-up-after 0
(`--give-up-after 0`: never stop for a slow model; each fixture was last recorded after the
JSON example was chosen per template and refine loops stopped on an unchanged answer.)
A change to a prompt template or an answer schema changes the rendered requests, and the
replay then reports a miss: record the run again with the command above. A replay measures
prompts with the model's own tokenizer (its vocabulary alone, when llama-cpp-python is here), as
the run did: a prompt long enough to be trimmed is trimmed as it was."""

from __future__ import annotations

import json
import shutil
from collections import Counter
from pathlib import Path

import pytest

from agentsim.cli_run import run_cli
from agentsim.options import RunOptions

HERE = Path(__file__).parent
RUNS = {"tiny_world": (HERE / "fixtures" / "smollm2_run", HERE / "fixtures" / "tiny_world"),
        "smallville": (HERE / "fixtures" / "smollm2_smallville",
                       HERE.parent / "worlds" / "smallville")}
each_run = pytest.mark.parametrize("name", sorted(RUNS))


def _copy(tmp_path: Path, name: str) -> Path:
    """The recorded run, with its world's path made this checkout's."""
    recorded, world = RUNS[name]
    src = tmp_path / "recorded"
    shutil.copytree(recorded, src)
    manifest = json.loads((src / "manifest.json").read_text())
    manifest["options"]["world"] = str(world)
    manifest["world"]["path"] = str(world)
    (src / "manifest.json").write_text(json.dumps(manifest, indent=2))
    return src


@each_run
def test_the_recording_holds_real_model_answers(name):
    recorded = RUNS[name][0]
    records = [json.loads(x) for x in (recorded / "llm.jsonl").read_text().splitlines() if x]
    origins = Counter(r["origin"] for r in records)
    assert set(origins) <= {"model", "repaired", "reasked", "fallback"}
    assert origins["model"] + origins["repaired"] + origins["reasked"] > origins["fallback"]
    manifest = json.loads((recorded / "manifest.json").read_text())
    assert manifest["options"]["llm"] == "local"
    assert {r["template_id"] for r in records} >= {"day_plan", "importance", "react"}


@each_run
def test_the_recorded_run_replays_exactly_with_no_model(tmp_path, name):
    src = _copy(tmp_path, name)
    out = tmp_path / "out"
    assert run_cli(RunOptions(replay=str(src), out=str(out))) == 0
    [rerun] = [p for p in out.iterdir() if p.is_dir()]
    assert (rerun / "events.jsonl").read_bytes() == (RUNS[name][0] / "events.jsonl").read_bytes()
    usage = json.loads((rerun / "manifest.json").read_text())["llm_usage"]["total"]
    assert usage["calls"] == 0 and usage["origins"].get("replay", 0) > 20


def test_a_replay_without_the_local_tokenizer_says_prompts_may_not_replay():
    from types import SimpleNamespace

    from agentsim.llm.factory import _replay_counter

    said: list[str] = []
    missing = SimpleNamespace(provider="local", model="/nowhere/model.gguf")
    assert _replay_counter(missing, said.append) is None
    assert "characters / 4" in said[0] and "may not replay" in said[0]
    assert _replay_counter(SimpleNamespace(provider="openai", model="m"), said.append) is None
    assert len(said) == 1
