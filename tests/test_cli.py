"""The command line: one-line errors with exit code 2, and the happy paths."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from agentsim.cli import main
from agentsim.rundir import run_dirs

ROOT = Path(__file__).resolve().parent.parent
SMALLVILLE = ROOT / "worlds" / "smallville"
TINY = ROOT / "tests" / "fixtures" / "tiny_world"


def invoke(*args: str):
    return CliRunner().invoke(main, list(args), catch_exceptions=False)


def one_line_error(result, *needles: str) -> str:
    assert result.exit_code == 2, result.output
    lines = [x for x in result.output.splitlines() if x.strip()]
    assert len(lines) == 1, result.output
    assert "Traceback" not in result.output
    for n in needles:
        assert n in lines[0], lines[0]
    return lines[0]


def test_validate_smallville():
    r = invoke("validate", str(SMALLVILLE))
    assert r.exit_code == 0
    assert "25 agents" in r.output


def test_missing_world_path():
    one_line_error(invoke("run", "no/such/world", "--headless"), "no/such/world")


def test_bad_yaml(tmp_path):
    w = tmp_path / "w"
    shutil.copytree(TINY, w)
    (w / "world.yaml").write_text("name: [unclosed\n")
    one_line_error(invoke("validate", str(w)), "world.yaml")


def test_unknown_field(tmp_path):
    w = tmp_path / "w"
    shutil.copytree(TINY, w)
    agent = sorted((w / "agents").glob("*.yaml"))[0]
    agent.write_text(agent.read_text() + "favourite_colour: blue\n")
    one_line_error(invoke("run", str(w), "--headless", "--ticks", "1"), agent.name,
                   "favourite_colour")


def test_both_hours_and_ticks():
    one_line_error(invoke("run", str(SMALLVILLE), "--hours", "1", "--ticks", "3"), "--hours")


def test_bad_flag_value():
    r = CliRunner().invoke(main, ["run", str(SMALLVILLE), "--seed", "abc"])
    assert r.exit_code == 2


def test_unknown_llm_provider():
    one_line_error(invoke("run", str(SMALLVILLE), "--headless", "--llm", "nosuch:model"),
                   "nosuch")


def test_debug_shows_traceback(tmp_path):
    from agentsim.errors import UserError

    with pytest.raises(UserError, match="no such world folder"):
        CliRunner().invoke(main, ["--debug", "validate", "no/such/world"],
                           catch_exceptions=False)


def test_run_interview_inspect(tmp_path):
    out = tmp_path / "runs"
    r = invoke("run", str(SMALLVILLE), "--headless", "--hours", "2", "--seed", "1",
               "--embedder", "hash", "--out", str(out))
    assert r.exit_code == 0, r.output
    # the hour lines are stamped with the hours they end at, not their last tick's start
    assert "Mon 07:00 |" in r.output and "Mon 08:00 |" in r.output
    assert "06:50 |" not in r.output and "07:50 |" not in r.output
    [run] = run_dirs(out)
    manifest = json.loads((run / "manifest.json").read_text())
    assert manifest["seed"] == 1 and manifest["ticks"] == 12
    assert manifest["llm_usage"]["total"]["calls"] > 0

    r = invoke("interview", str(run), "Isabella Rodriguez", "What are you planning?", "--json")
    assert r.exit_code == 0, r.output
    ans = json.loads(r.output)
    assert ans["answer"] and ans["memories"]

    r = invoke("inspect", str(run), "--agent", "Isabella Rodriguez", "--query",
               "Valentine's Day party", "--json")
    rows = json.loads(r.output)
    assert rows
    for row in rows:
        w = row["weights"]
        total = w[0] * row["recency"] + w[1] * row["importance"] + w[2] * row["relevance"]
        assert row["score"] == pytest.approx(total)
        for c in ("recency", "importance", "relevance"):
            assert 0.0 <= row[c] <= 1.0

    one_line_error(invoke("interview", str(run), "Nobody Here", "hi"), "Nobody Here")


def test_an_ignored_openai_key_is_mentioned_once(tmp_path, monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
    result = CliRunner().invoke(main, ["run", str(TINY), "--headless", "--ticks", "1",
                                       "--embedder", "hash", "--out", str(tmp_path)])
    assert result.exit_code == 0, result.output
    notes = [x for x in result.output.splitlines() if "OPENAI_API_KEY" in x]
    assert len(notes) == 1 and "--llm openai:MODEL" in notes[0]


def test_sweep_prints_the_summary_and_writes_tables(tmp_path):
    result = invoke("sweep", str(TINY), "--grid", "max_turns=2,6", "--seeds", "0,1",
                    "--ticks", "3", "--embedder", "hash", "--workers", "1", "-o", str(tmp_path))
    assert result.exit_code == 0, result.output
    assert "max_turns=2" in result.output and "max_turns=6" in result.output
    assert "4 runs on local" in result.output
    assert (tmp_path / "summary.csv").is_file() and (tmp_path / "runs.csv").is_file()
    one_line_error(invoke("sweep", str(TINY), "--grid", "colour=1"), "unknown sweep parameter")
    one_line_error(invoke("sweep", str(TINY), "--seeds", "a,b"), "--seeds")


def test_a_hung_llm_server_stops_the_run_with_one_line_and_exit_code_3(tmp_path):
    from agentsim.testing import FakeOpenAIServer

    with FakeOpenAIServer(hang_after=150) as server:
        r = invoke("run", str(SMALLVILLE), "--headless", "--hours", "12", "--embedder", "hash",
                   "--llm", f"compat:fake-model@{server.base_url}", "--out", str(tmp_path),
                   "--give-up-after", "0.3", "--give-up-failures", "50")
    assert r.exit_code == 3, r.output
    assert "Traceback" not in r.output
    [run] = run_dirs(tmp_path)
    last = r.output.strip().splitlines()[-1]
    assert last.startswith("agentsim: stopped: the LLM server seems down (compat:fake-model): "
                           "no LLM call succeeded for 0.3s; the run is saved at its last "
                           "checkpoint (tick ")
    assert last.endswith(f"resume with `agentsim run --resume {run}`")
    assert json.loads((run / "manifest.json").read_text())["options"]["give_up_after"] == 0.3
