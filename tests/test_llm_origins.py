"""Who answered: every LLM answer has an origin (model, repaired, reasked, fallback, offline,
cache, replay), the model's share is shown everywhere a run reports, falling back to the
offline mind is a named choice (--fallback offline|stop), an interview never passes the
offline mind's text off as the resident's words, and fine-tuning exports leave fallbacks out.
No network: FakeLLM and the fake OpenAI-compatible server on 127.0.0.1."""

from __future__ import annotations

import json
import re
from pathlib import Path
from types import SimpleNamespace

import pytest
from click.testing import CliRunner
from pydantic import BaseModel

from agentsim.cli import main
from agentsim.errors import LLMUnavailable, RequestRejected, RetryableLLMError
from agentsim.llm import accounting
from agentsim.llm.accounting import Usage
from agentsim.llm.prompts import PromptLibrary
from agentsim.llm.record import Recorder, ResponseCache
from agentsim.rundir import run_dirs
from agentsim.testing import FakeLLM, FakeOpenAIServer, answering, test_client

ROOT = Path(__file__).resolve().parent.parent
TINY = ROOT / "tests" / "fixtures" / "tiny_world"
V = {"who": "x", "what": "y"}


class Answer(BaseModel):
    word: str
    n: int


class Offline(FakeLLM):
    name = "offline"  # what the factory's offline mind is called


@pytest.fixture
def prompts(tmp_path):
    d = tmp_path / "prompts"
    d.mkdir()
    (d / "echo.j2").write_text("[system]\nYou are {{ who }}.\n[user]\nSay {{ what }}.\n")
    return PromptLibrary(d)


def client(backend, prompts, **kw):
    kw.setdefault("fallback", FakeLLM(lambda t, v: {"word": "fallback", "n": 0}))
    return test_client(backend, prompts, **kw)


def invoke(*args: str):
    return CliRunner().invoke(main, list(args), catch_exceptions=False)


# -- origins in the client --------------------------------------------------------------------
async def test_each_answer_is_counted_by_its_origin_and_recorded_with_it(prompts, tmp_path):
    log = tmp_path / "llm.jsonl"
    fake = answering('{"word": "a", "n": 1}',  # model
                     '```json\n{"word": "b", "n": 2}\n```',  # repaired
                     '{"word": "c"}', '{"word": "c", "n": 3}',  # reasked
                     "no json", "still none",  # fallback after a re-ask
                     RequestRejected("too long"))  # fallback at once
    c = client(fake, prompts, recorder=Recorder(log), max_retries=0)
    words = [(await c.ask("echo", {"who": "x", "what": str(i)}, schema=Answer, agent="ann")).word
             for i in range(5)]
    await c.aclose()
    assert words == ["a", "b", "c", "fallback", "fallback"]
    t = c.usage.total
    assert t.origins == {"model": 1, "repaired": 1, "reasked": 1, "fallback": 2}
    assert t.repairs == 1 and t.reasks == 2 and t.fallbacks == 2
    assert c.usage.by_template["echo"].origins == t.origins
    assert c.usage.by_agent["ann"].model_share == pytest.approx(3 / 5)
    records = [json.loads(x) for x in log.read_text().splitlines()]
    assert [r["origin"] for r in records] == ["model", "repaired", "reasked", "fallback",
                                              "fallback"]
    assert c.stats()["origins"] == t.origins and c.stats()["reasks"] == 2


async def test_a_server_error_after_retries_is_a_fallback(prompts):
    c = client(answering(RetryableLLMError("500"), RetryableLLMError("500")), prompts,
               max_retries=1)
    assert (await c.ask("echo", V, schema=Answer)).word == "fallback"
    assert c.usage.total.origins == {"fallback": 1} and c.usage.total.model_share == 0


async def test_the_configured_offline_mind_is_offline_not_a_model(prompts):
    c = client(Offline(lambda t, v: {"word": "o", "n": 1}), prompts)
    await c.ask("echo", V, schema=Answer)
    assert c.usage.total.origins == {"offline": 1}
    assert c.usage.total.model_share is None  # no answer was meant for a model
    assert accounting.share_warning(c.usage) is None
    assert c.describe()["offline"] is True


async def test_cached_answers_say_so(prompts, tmp_path):
    cache = ResponseCache(tmp_path / "cache.sqlite")
    fake = FakeLLM(lambda t, v: {"word": "w", "n": 1})
    await client(fake, prompts, cache=cache).ask("echo", V, schema=Answer)
    again = client(fake, prompts, cache=cache)
    await again.ask("echo", V, schema=Answer)
    assert again.usage.total.origins == {"cache": 1} and again.usage.total.model_share is None
    cache.close()


def test_the_table_has_re_asks_apart_from_repairs_and_the_model_share():
    u = Usage()
    for origin in ["model"] * 11 + ["repaired", "fallback"]:
        u.answered("ann", "plan", "smart", origin)
    u.add("ann", "plan", "smart", repairs=1, reasks=2)
    head, plan, total = (re.split(r"\s{2,}", x.strip()) for x in u.table().splitlines())
    assert "repairs" in head and "re-asks" in head and "model" in head
    assert plan[head.index("re-asks")] == "2" and plan[head.index("repairs")] == "1"
    assert plan[head.index("model")] == "92%" and total[head.index("fallbacks")] == "0"
    assert accounting.share_text(0.996) == "99%" and accounting.share_text(None) == "-"
    restored = Usage()
    restored.restore(u.summary())  # a resumed run keeps counting by origin
    assert restored.by_template["plan"].origins == {"model": 11, "repaired": 1, "fallback": 1}
    assert u.summary()["by_template"]["plan"]["model_share"] == pytest.approx(12 / 13, abs=1e-4)


# -- --fallback stop ----------------------------------------------------------------------------
async def test_stop_policy_gives_up_instead_of_falling_back(prompts):
    fake = answering("no json", "none again", '{"word": "a", "n": 1}')
    c = client(fake, prompts, fallback_policy="stop")
    with pytest.raises(LLMUnavailable, match=r"could not answer a 'echo' call.*fallback is 'stop'"):
        await c.ask("echo", V, schema=Answer)
    assert c.usage.total.fallbacks == 0 and "fallback" not in c.usage.total.origins
    with pytest.raises(LLMUnavailable):  # every later call ends at once too
        await c.ask("echo", {"who": "x", "what": "z"}, schema=Answer)
    assert len(fake.calls) == 2
    with pytest.raises(ValueError, match="fallback_policy"):
        client(fake, prompts, fallback_policy="skip")


def _config(tmp_path: Path, text: str = "") -> Path:
    tmp_path.mkdir(parents=True, exist_ok=True)
    config = tmp_path / "agentsim.toml"
    config.write_text("[llm]\nmax_retries = 0\ngive_up_failures = 0\n" + text)
    return config


def _run(tmp_path: Path, server: FakeOpenAIServer, *extra: str, config: Path | None = None):
    out = tmp_path / "runs"
    r = invoke("run", str(TINY), "--headless", "--ticks", "4", "--embedder", "hash", "--out",
               str(out), "--llm", f"compat:fake-model@{server.base_url}", "--llm-config",
               str(config or _config(tmp_path)), *extra)
    [run] = run_dirs(out)
    return r, run


def test_fallback_stop_stops_the_run_cleanly_with_one_line(tmp_path):
    with FakeOpenAIServer(faults={"500": 1.0}) as server:
        r, run = _run(tmp_path, server, "--fallback", "stop")
    assert r.exit_code == LLMUnavailable.exit_code, r.output
    lines = [x for x in r.output.splitlines() if x.startswith("agentsim:")]
    assert len(lines) == 1 and "Traceback" not in r.output
    assert lines[0].startswith("agentsim: stopped: the model could not answer a")
    assert "fallback is 'stop'" in lines[0] and f"agentsim run --resume {run}" in lines[0]
    manifest = json.loads((run / "manifest.json").read_text())
    assert "fallback is 'stop'" in manifest["stopped"] and manifest["fallbacks"] == 0
    assert manifest["llm"]["fallback"] == "stop"
    assert not (run / "checkpoints").exists() or not any((run / "checkpoints").iterdir())


def test_fallback_stop_from_the_config_file(tmp_path):
    with FakeOpenAIServer(faults={"500": 1.0}) as server:
        r, _ = _run(tmp_path, server, config=_config(tmp_path, 'fallback = "stop"\n'))
    assert r.exit_code == LLMUnavailable.exit_code, r.output
    bad = _config(tmp_path, 'fallback = "skip"\n')
    r = invoke("run", str(TINY), "--headless", "--ticks", "1", "--llm-config", str(bad),
               "--out", str(tmp_path / "x"))
    assert r.exit_code == 2 and "llm.fallback" in r.output


# -- a run that mostly fell back says so ---------------------------------------------------------
def test_a_run_the_model_mostly_did_not_answer_says_so_everywhere(tmp_path):
    from agentsim.report import write_report

    with FakeOpenAIServer(faults={"500": 1.0}) as server:
        r, run = _run(tmp_path, server, "--fallback", "offline")  # answered, and counted
    assert r.exit_code == 0, r.output
    warning = [x for x in r.output.splitlines() if x.startswith("Warning: the model answered")]
    assert len(warning) == 1 and "only 0%" in warning[0]
    manifest = json.loads((run / "manifest.json").read_text())
    assert manifest["llm"]["offline"] is False and manifest["llm"]["fallback"] == "offline"
    assert manifest["model_share"] == 0 and manifest["fallbacks"] > 0
    assert "answered only 0%" in manifest["model_share_warning"]
    total = manifest["llm_usage"]["total"]
    assert total["origins"] == {"fallback": manifest["fallbacks"]} and total["model_share"] == 0
    assert all(t["model_share"] == 0 for t in manifest["llm_usage"]["by_template"].values())
    text = write_report(run).read_text()
    assert "Model share: 0%" in text and "Warning: the model answered only 0%" in text
    html = write_report(run, as_html=True, out=tmp_path / "html").read_text()
    assert "Model share: 0%" in html


def test_a_healthy_model_run_reports_its_share_without_a_warning(tmp_path):
    with FakeOpenAIServer() as server:
        r, run = _run(tmp_path, server, "--min-model-share", "0.9")
    assert r.exit_code == 0, r.output
    assert "Warning" not in r.output and "The model answered all" in r.output
    manifest = json.loads((run / "manifest.json").read_text())
    assert manifest["model_share"] == 1 and manifest["fallbacks"] == 0
    assert manifest["model_share_warning"] is None
    assert manifest["options"]["min_model_share"] == 0.9


def test_the_minimum_share_is_configurable():
    u = Usage()
    for origin in ["model"] * 6 + ["fallback"] * 4:
        u.answered(None, "plan", "smart", origin)
    assert accounting.share_warning(u) is None  # 60 % >= 50 %
    assert "only 60%" in accounting.share_warning(u, 0.8)


def _offline_run(tmp_path: Path):
    """A 4-tick CLI run of the small world on the offline mind: (its folder, its output)."""
    out = tmp_path / "runs"
    r = invoke("run", str(TINY), "--headless", "--ticks", "4", "--embedder", "hash",
               "--out", str(out))
    assert r.exit_code == 0, r.output
    [run] = run_dirs(out)
    return run, r


def test_an_offline_run_says_offline_and_warns_of_nothing(tmp_path):
    run, r = _offline_run(tmp_path)
    manifest = json.loads((run / "manifest.json").read_text())
    assert manifest["llm"]["offline"] is True and manifest["model_share"] is None
    assert manifest["fallbacks"] == 0 and manifest["model_share_warning"] is None
    assert set(manifest["llm_usage"]["total"]["origins"]) == {"offline"}
    records = [json.loads(x) for x in (run / "llm.jsonl").read_text().splitlines()]
    assert records and {x["origin"] for x in records} == {"offline"}
    assert "Warning" not in r.output and "model answered" not in r.output


# -- the TUI's status line ------------------------------------------------------------------------
def _sim_with(origins: dict[str, int], summary: str = "compat:m"):
    u = Usage()
    for origin, n in origins.items():
        for _ in range(n):
            u.answered(None, "plan", "smart", origin)
    u.add(None, "plan", "smart", calls=sum(origins.values()))
    llm = SimpleNamespace(usage=u, describe=lambda: {"summary": summary})
    return SimpleNamespace(llm=llm, options=None)


def test_the_status_line_shows_the_share_and_warns_of_fallbacks():
    from agentsim.tui.status import llm_text

    clean = llm_text(_sim_with({"model": 126}))
    assert clean.plain.startswith("LLM 126 calls · 100% model · ")
    assert not any("yellow" in str(s.style) or "red" in str(s.style) for s in clean.spans)
    some = llm_text(_sim_with({"model": 116, "fallback": 10}))
    assert "LLM 126 calls · 92% model (10 fallbacks) · " in some.plain
    assert any("yellow" in str(s.style) for s in some.spans)
    most = llm_text(_sim_with({"model": 26, "fallback": 100}), short=True)
    assert "LLM 126 · 21% model (100 fb) · " in most.plain
    assert any("red" in str(s.style) for s in most.spans)
    offline = llm_text(_sim_with({"offline": 26}, "offline mind"))
    assert offline.plain.startswith("LLM 26 calls · 0 tok") and "model" not in offline.plain


# -- interviews ------------------------------------------------------------------------------------
@pytest.fixture
def offline_run(tmp_path):
    return _offline_run(tmp_path)[0]


def _point_at(run: Path, server: FakeOpenAIServer, config: Path) -> None:
    manifest = json.loads((run / "manifest.json").read_text())
    manifest["options"]["llm"] = f"compat:fake-model@{server.base_url}"
    manifest["options"]["llm_config"] = str(config)
    (run / "manifest.json").write_text(json.dumps(manifest))


def _name(run: Path) -> str:
    import yaml

    return yaml.safe_load(sorted((TINY / "agents").glob("*.yaml"))[0].read_text())["name"]


def test_an_interview_with_a_failing_model_prints_no_answer(offline_run, tmp_path):
    name = _name(offline_run)
    with FakeOpenAIServer(faults={"500": 1.0}) as server:
        _point_at(offline_run, server, _config(tmp_path))
        r = invoke("interview", str(offline_run), name, "What are you planning?")
        assert r.exit_code == LLMUnavailable.exit_code, r.output
        lines = [x for x in r.output.splitlines() if x.strip()]
        assert len(lines) == 1 and lines[0].startswith("agentsim: error: the model could not")
        assert f"{name}:" not in r.output

        r = invoke("interview", str(offline_run), name, "What are you planning?",
                   "--fallback", "offline")
        assert r.exit_code == 0, r.output
        assert r.output.startswith(f"{name} [the offline mind: the model could not answer]: ")
        r = invoke("interview", str(offline_run), name, "What are you planning?",
                   "--fallback", "offline", "--json")
        assert json.loads(r.output)["origin"] == "fallback"


def test_an_interview_on_the_offline_mind_says_where_the_answer_comes_from(offline_run):
    name = _name(offline_run)
    r = invoke("interview", str(offline_run), name, "What are you planning?")
    assert r.exit_code == 0, r.output
    assert r.output.startswith(f"{name} [the offline mind, not a language model]: ")
    r = invoke("interview", str(offline_run), name, "What are you planning?", "--json")
    assert json.loads(r.output)["origin"] == "offline"


# -- fine-tuning exports ---------------------------------------------------------------------------
def test_export_refinements_skips_what_the_offline_mind_answered_as_a_fallback(tmp_path):
    from agentsim.export import export_refinements

    with FakeOpenAIServer(faults={"500": 1.0}) as server:
        _, failing = _run(tmp_path / "failing", server, "--fallback", "offline")
    with FakeOpenAIServer() as server:
        _, healthy = _run(tmp_path / "healthy", server)
    refined = [json.loads(x) for x in (failing / "events.jsonl").read_text().splitlines()
               if json.loads(x)["type"] == "refined"]
    assert refined  # the run had refinements to export
    notes: list[str] = []
    out = export_refinements(failing, tmp_path / "a", warn=notes.append)
    assert out.read_text() == ""
    assert notes == [f"agentsim: {len(refined)} refinement(s) skipped: their final output was "
                     "answered by the offline mind as a fallback, not by the model"]
    notes.clear()
    kept = export_refinements(healthy, tmp_path / "b", warn=notes.append)
    assert kept.read_text().strip() and not notes
    r = invoke("export", str(failing), "--refinements", "-o", str(tmp_path / "c"))
    assert r.exit_code == 0 and "refinement(s) skipped" in r.output
