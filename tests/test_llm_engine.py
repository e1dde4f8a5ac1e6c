"""The LLM layer under a whole simulation: replay, budgets, concurrency and faults against the
fake OpenAI-compatible server."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from agentsim.cli_run import run_cli
from agentsim.events import RunStopped
from agentsim.experiment import Simulation
from agentsim.llm.factory import client_for
from agentsim.llm.offline import OfflineMind
from agentsim.llm.openai_backend import OpenAIBackend
from agentsim.options import RunOptions
from agentsim.rundir import run_dirs
from agentsim.testing import FakeOpenAIServer

ROOT = Path(__file__).resolve().parent.parent
SMALLVILLE = str(ROOT / "worlds" / "smallville")


def _run(tmp_path: Path, name: str, **kw) -> Path:
    out = tmp_path / name
    opts = RunOptions(world=SMALLVILLE, seed=5, embedder="hash", out=str(out), **kw)
    assert run_cli(opts) == 0
    [run] = run_dirs(out)
    return run


def test_replay_makes_no_calls_and_reproduces_the_log(tmp_path):
    original = _run(tmp_path, "orig", hours=3)
    replay = tmp_path / "replay"
    assert run_cli(RunOptions(replay=str(original), out=str(replay))) == 0
    [rerun] = run_dirs(replay)
    assert (rerun / "events.jsonl").read_bytes() == (original / "events.jsonl").read_bytes()
    usage = json.loads((rerun / "manifest.json").read_text())["llm_usage"]["total"]
    assert usage["calls"] == 0 and usage["cache_hits"] > 100


def test_budget_stops_cleanly_at_a_checkpoint(tmp_path):
    run = _run(tmp_path, "budget", hours=4, budget_calls=60)
    manifest = json.loads((run / "manifest.json").read_text())
    assert "call budget" in manifest["stopped"]
    assert manifest["ticks"] < 24
    assert (run / "checkpoints" / f"tick-{manifest['ticks']:06d}").is_dir()
    last = (run / "events.jsonl").read_text().splitlines()[-1]
    assert json.loads(last)["type"] == "run_stopped"
    assert RunStopped.model_validate_json(last).reason == manifest["stopped"]

    # Resumed, the run remembers what it spent: the budget is still spent, nothing runs.
    assert run_cli(RunOptions(resume=str(run))) == 0
    resumed = json.loads((run / "manifest.json").read_text())
    assert resumed["ticks"] == manifest["ticks"] and "call budget" in resumed["stopped"]
    assert resumed["llm_usage"]["total"]["calls"] == manifest["llm_usage"]["total"]["calls"]
    # A larger budget on resume lets it go on.
    assert run_cli(RunOptions(resume=str(run), budget_calls=10_000)) == 0
    assert json.loads((run / "manifest.json").read_text())["ticks"] == 24


def test_a_replay_of_a_budget_stopped_run_stops_the_same_way(tmp_path):
    original = _run(tmp_path, "budget", hours=2, budget_calls=60)
    replay = tmp_path / "replay"
    assert run_cli(RunOptions(replay=str(original), out=str(replay))) == 0
    [rerun] = run_dirs(replay)
    assert (rerun / "events.jsonl").read_bytes() == (original / "events.jsonl").read_bytes()


def _fake_llm(server: FakeOpenAIServer, **kw):
    backend = OpenAIBackend("fake-model", base_url=server.base_url, name="compat",
                            send_request_meta=True)
    return client_for(backend, fallback=OfflineMind(), **kw)


def test_all_agents_calls_are_in_flight_together(in_flight_gate):
    """The server holds each answer until 20 requests are in flight: the tick ends only if
    the residents' calls really go out together."""
    gate, mind = in_flight_gate(20), OfflineMind()

    async def held(template_id, variables):
        await gate.hold()
        return mind.answer(template_id, variables, 0)

    with FakeOpenAIServer(held) as server:
        sim = Simulation.load(SMALLVILLE, seed=1, embedder="hash", llm=_fake_llm(server))
        sim.clock.tick = 12  # 08:00: everyone is awake and plans
        sim.run(ticks=1)
        sim.close()
    gate.check()
    assert server.max_in_flight >= 20


@pytest.mark.slow
def test_a_run_survives_twenty_percent_faults(tmp_path):
    faults = {"429": 0.05, "500": 0.05, "hang": 0.05, "malformed": 0.05}
    with FakeOpenAIServer(faults=faults, seed=1) as server:
        llm = _fake_llm(server, timeout=0.5, backoff_base=0.01, backoff_max=0.05)
        sim = Simulation.load(SMALLVILLE, seed=1, embedder="hash", llm=llm, out=str(tmp_path))
        sim.clock.tick = 12
        sim.run(hours=2)
        t = llm.usage.total
        sim.close()
    assert sim.clock.tick == 24
    assert t.retries > 0 and t.repairs > 0
    # the skill library's prompts went over HTTP too, faults and all
    by_template = llm.usage.summary()["by_template"]
    assert by_template["skill_choose"]["calls"] > 0 and by_template["skill_verify"]["calls"] > 0
    assert server.by_status["429"] > 0 and server.by_status["500"] > 0


def _stopped_run(tmp_path: Path, capsys, server: FakeOpenAIServer, **kw) -> tuple[Path, str]:
    config = tmp_path / "agentsim.toml"
    config.write_text("[llm]\nmax_retries = 1\n")
    out = tmp_path / "runs"
    # the offline mind answers what the failing server could not, until the run gives up on it
    opts = RunOptions(world=SMALLVILLE, seed=5, embedder="hash", out=str(out), hours=12,
                      llm=f"compat:fake-model@{server.base_url}", llm_config=str(config),
                      fallback="offline", **kw)
    capsys.readouterr()
    assert run_cli(opts) == 3
    err = capsys.readouterr().err.strip().splitlines()
    [run] = run_dirs(out)
    return run, err[-1] if err else ""


def _assert_stopped_cleanly(run: Path, line: str, why: str) -> dict:
    manifest = json.loads((run / "manifest.json").read_text())
    assert why in manifest["stopped"] and "seems down" in manifest["stopped"]
    assert line.startswith("agentsim: stopped: the LLM server seems down") and why in line
    assert f"resume with `agentsim run --resume {run}`" in line and "Traceback" not in line
    last = json.loads((run / "events.jsonl").read_text().splitlines()[-1])
    assert last["type"] == "run_stopped" and last["reason"] == manifest["stopped"]
    ticks = sorted(int(p.name.split("-")[1]) for p in (run / "checkpoints").glob("tick-*"))
    assert ticks and ticks[-1] <= manifest["ticks"] < 72  # no checkpoint of a half tick
    return manifest


def test_a_server_that_dies_mid_run_stops_it_cleanly_and_it_resumes(tmp_path, capsys):
    with FakeOpenAIServer(die_after=150) as server:
        run, line = _stopped_run(tmp_path, capsys, server, give_up_failures=3)
    assert server.dead
    _assert_stopped_cleanly(run, line, "3 LLM calls in a row failed")
    with FakeOpenAIServer() as again:  # the server is back (at a new address)
        assert run_cli(RunOptions(resume=str(run),
                                  llm=f"compat:fake-model@{again.base_url}")) == 0
    manifest = json.loads((run / "manifest.json").read_text())
    assert manifest["ticks"] == manifest["target_tick"] == 72 and not manifest["stopped"]


def test_a_server_that_hangs_stops_the_run_cleanly(tmp_path, capsys):
    with FakeOpenAIServer(hang_after=150) as server:
        run, line = _stopped_run(tmp_path, capsys, server, give_up_after=0.3)
    _assert_stopped_cleanly(run, line, "no LLM call succeeded for 0.3s")


async def test_the_live_view_stops_on_a_dead_server_and_never_checkpoints_the_half_tick(
        tmp_path):
    from agentsim.errors import RetryableLLMError
    from agentsim.testing import FakeLLM
    from agentsim.tui.runner import Runner

    def refuse(t, v):
        raise RetryableLLMError("connection refused")

    llm = client_for(FakeLLM(refuse), fallback=OfflineMind(), max_retries=0, give_up_failures=3)
    sim = Simulation.load(SMALLVILLE, seed=1, embedder="hash", llm=llm, out=str(tmp_path))
    sim.clock.tick = 12  # 08:00: everyone plans
    runner = Runner(sim, 5, speed=float("inf"))
    await runner.run(lambda: None)
    assert runner.finished.startswith("stopped: the LLM server seems down")
    assert sim.halted and sim.clock.tick == 12 and sim.stopped in runner.finished
    sim.checkpoint()  # what `s` or `q` in the view would do: nothing, the world is half-stepped
    assert not sim.run_dir.checkpoints()
    assert sim.events[-1].type == "run_stopped"
    await sim.aclose()
