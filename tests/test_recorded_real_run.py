"""A run driven by a real model, recorded and replayed in every test run: the packaged
SmolLM2-135M-Instruct (`--llm local`) ran the small world for two sim-hours, and its answers
(`llm.jsonl`) are shipped in tests/fixtures/smollm2_run/. A replay needs no model and no
llama-cpp-python, so the real-answer path (odd JSON, odd names, odd places, answers refused
by validation and counted as fallbacks) is exercised in seconds everywhere.

Made with (then the manifest, events.jsonl and llm.jsonl copied):
    agentsim run tests/fixtures/tiny_world --llm local --hours 2 --headless --seed 0 \\
        --embedder hash --out runs
A change to a prompt template or an answer schema changes the rendered requests, and the
replay then reports a miss: record the run again with the command above."""

from __future__ import annotations

import json
import shutil
from collections import Counter
from pathlib import Path

from agentsim.session import RunOptions, run_cli

HERE = Path(__file__).parent
RECORDED = HERE / "fixtures" / "smollm2_run"
TINY = HERE / "fixtures" / "tiny_world"


def _copy(tmp_path: Path) -> Path:
    """The recorded run, with its world's path made this checkout's."""
    src = tmp_path / "recorded"
    shutil.copytree(RECORDED, src)
    manifest = json.loads((src / "manifest.json").read_text())
    manifest["options"]["world"] = str(TINY)
    manifest["world"]["path"] = str(TINY)
    (src / "manifest.json").write_text(json.dumps(manifest, indent=2))
    return src


def test_the_recording_holds_real_model_answers():
    records = [json.loads(x) for x in (RECORDED / "llm.jsonl").read_text().splitlines() if x]
    origins = Counter(r["origin"] for r in records)
    assert set(origins) <= {"model", "repaired", "reasked", "fallback"}
    assert origins["model"] + origins["repaired"] + origins["reasked"] > origins["fallback"]
    manifest = json.loads((RECORDED / "manifest.json").read_text())
    assert manifest["options"]["llm"] == "local"
    assert {r["template_id"] for r in records} >= {"day_plan", "decompose", "importance"}


def test_the_recorded_run_replays_exactly_with_no_model(tmp_path):
    src = _copy(tmp_path)
    out = tmp_path / "out"
    assert run_cli(RunOptions(replay=str(src), out=str(out))) == 0
    [rerun] = [p for p in out.iterdir() if p.is_dir()]
    assert (rerun / "events.jsonl").read_bytes() == (RECORDED / "events.jsonl").read_bytes()
    usage = json.loads((rerun / "manifest.json").read_text())["llm_usage"]["total"]
    assert usage["calls"] == 0 and usage["origins"].get("replay", 0) > 20
