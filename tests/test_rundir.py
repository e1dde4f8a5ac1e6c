"""Run directories that never lose or corrupt data: broken checkpoints, a full disk, logs cut
back to their checkpoint on resume, one process per run, a manifest written first, and bad
numbers on the command line."""

from __future__ import annotations

import errno
import json
import os
import shutil
import sys
from collections import Counter
from pathlib import Path

import numpy as np
import pytest

from agentsim.checkpoint_store import load_checkpoint
from agentsim.cli import run_main
from agentsim.rundir import RunDir, run_dirs

ROOT = Path(__file__).resolve().parent.parent
SMALLVILLE = ROOT / "worlds" / "smallville"
RUN = ["run", str(SMALLVILLE), "--headless", "--embedder", "hash", "--hours", "1"]


@pytest.fixture
def agentsim(monkeypatch, capsys):
    """`agentsim ARGS...` as the console script runs it: (exit code, stderr lines)."""

    def call(*args: object) -> tuple[int, list[str]]:
        monkeypatch.setattr(sys, "argv", ["agentsim", *map(str, args)])
        capsys.readouterr()
        try:
            run_main()
            code = 0
        except SystemExit as e:
            code = e.code if isinstance(e.code, int) else 1
        out, err = capsys.readouterr()
        assert "Traceback" not in out + err
        return code, [x for x in err.splitlines() if x.strip()]

    return call


def _said(lines: list[str], kind: str) -> list[str]:
    return [x for x in lines if x.startswith(f"agentsim: {kind}:")]


def _lines(path: Path) -> list[str]:
    return path.read_text(encoding="utf-8").splitlines()


def _events(run: Path) -> list[str]:
    return [x for x in _lines(run / "events.jsonl") if '"run_resumed"' not in x]


def _keys(run: Path) -> Counter[str]:
    return Counter(json.loads(x)["key"] for x in _lines(run / "llm.jsonl"))


def _clean(run: Path) -> None:
    """Both logs: no NUL byte, every line whole and parseable, a newline at the end."""
    for name in ("events.jsonl", "llm.jsonl"):
        data = (run / name).read_bytes()
        assert b"\0" not in data, name
        assert data.endswith(b"\n"), name
        for line in data.decode().splitlines():
            json.loads(line)


@pytest.fixture(scope="module")
def reference(tmp_path_factory) -> Path:
    """An uninterrupted hour of Smallville: what every interrupted run must end up with."""
    from agentsim.cli_run import run_cli
    from agentsim.options import RunOptions

    out = tmp_path_factory.mktemp("reference")
    assert run_cli(RunOptions(world=str(SMALLVILLE), hours=1, embedder="hash",
                              out=str(out))) == 0
    [run] = run_dirs(out)
    return run


@pytest.fixture(scope="module")
def checkpointed(tmp_path_factory) -> Path:
    """A finished hour with checkpoints at ticks 2, 4 and 6, run once for the module."""
    from agentsim.cli_run import run_cli
    from agentsim.options import RunOptions

    out = tmp_path_factory.mktemp("checkpointed")
    assert run_cli(RunOptions(world=str(SMALLVILLE), hours=1, embedder="hash", out=str(out),
                              checkpoint_every=2)) == 0
    [run] = run_dirs(out)
    assert [c.name for c in RunDir(run).checkpoints()] == [
        "tick-000002", "tick-000004", "tick-000006"]
    return run


def _checkpointed(checkpointed: Path, tmp_path: Path) -> Path:
    """A copy of that run directory, for one test to damage."""
    run = tmp_path / "runs" / checkpointed.name
    shutil.copytree(checkpointed, run)
    return run


# -- 1. a broken newest checkpoint ---------------------------------------------------------
@pytest.mark.parametrize("damage", ["truncated state.json", "truncated arrays.npz",
                                    "empty arrays.npz", "no state.json"])
def test_resume_falls_back_from_a_broken_newest_checkpoint(agentsim, tmp_path, reference,
                                                           checkpointed, damage):
    run = _checkpointed(checkpointed, tmp_path)
    newest = run / "checkpoints" / "tick-000006"
    what, name = damage.split(" ")[0], damage.split(" ")[-1]
    if what == "truncated":
        data = (newest / name).read_bytes()
        (newest / name).write_bytes(data[: len(data) // 2])
    elif what == "empty":
        (newest / name).write_bytes(b"")
    else:
        (newest / name).unlink()
    code, err = agentsim("run", "--resume", run, "--headless")
    assert code == 0, err
    [warning] = _said(err, "warning")
    assert "tick-000006" in warning and name in warning
    resumed = [json.loads(x) for x in _lines(run / "events.jsonl") if '"run_resumed"' in x]
    assert [e["from_tick"] for e in resumed] == [4]
    assert _events(run) == _lines(reference / "events.jsonl")
    _clean(run)


def test_a_checkpoint_the_logs_do_not_reach_is_skipped_not_padded(agentsim, tmp_path,
                                                                 reference, checkpointed):
    """events.jsonl lost its tail (say, a crash before the OS wrote it): the newest checkpoint
    says the log was longer, so the resume starts from an older one; no NUL padding."""
    run = _checkpointed(checkpointed, tmp_path)
    newest = json.loads((run / "checkpoints" / "tick-000006" / "state.json").read_text())
    older = json.loads((run / "checkpoints" / "tick-000004" / "state.json").read_text())
    cut = (older["events_bytes"] + newest["events_bytes"]) // 2
    os.truncate(run / "events.jsonl", cut)
    code, err = agentsim("run", "--resume", run, "--headless")
    assert code == 0, err
    [warning] = _said(err, "warning")
    assert "tick-000006" in warning and "events.jsonl" in warning
    assert _events(run) == _lines(reference / "events.jsonl")
    _clean(run)


def test_no_usable_checkpoint_is_one_line_and_changes_nothing(agentsim, tmp_path,
                                                              checkpointed):
    run = _checkpointed(checkpointed, tmp_path)
    for c in RunDir(run).checkpoints():
        (c / "state.json").write_text("{")
    before = {p.name: p.read_bytes() for p in run.glob("*.jsonl")}
    code, err = agentsim("run", "--resume", run, "--headless")
    assert code == 2
    [error] = _said(err, "error")
    assert "checkpoints" in error and "state.json" in error
    assert {p.name: p.read_bytes() for p in run.glob("*.jsonl")} == before


def test_a_checkpoint_is_written_whole_or_not_at_all(tmp_path, monkeypatch):
    rd = RunDir.create(tmp_path, "w", 0)
    state = {"tick": 1, "seeded": True, "rng": [], "objects": {}, "relationships": {},
             "agents": {}, "events_bytes": 0}
    rd.save_checkpoint(1, state, {"a": np.arange(3)})

    def broken_savez(f, **arrays):
        f.write(b"PK\x03\x04 half a zip")
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(np, "savez", broken_savez)
    with pytest.raises(OSError):
        rd.save_checkpoint(1, {**state, "tick": 2}, {"a": np.arange(3)})
    with pytest.raises(OSError):
        rd.save_checkpoint(2, {**state, "tick": 2}, {"a": np.arange(3)})
    assert sorted(p.name for p in (rd.path / "checkpoints").iterdir()) == ["tick-000001"]
    found = rd.latest_checkpoint()
    assert found is not None and found[0]["tick"] == 1
    rd.close()


# -- 2. a full disk --------------------------------------------------------------------------
@pytest.mark.parametrize("writer", ["checkpoint", "events"])
def test_a_full_disk_stops_cleanly_and_the_last_checkpoint_resumes(agentsim, tmp_path,
                                                                   monkeypatch, reference,
                                                                   writer):
    full = OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
    if writer == "checkpoint":
        real = np.savez
        calls = []

        def savez(f, **arrays):
            calls.append(1)
            if len(calls) == 2:  # the second checkpoint, tick 4: half written, then no space
                f.write(b"PK\x03\x04 half a zip")
                raise full
            real(f, **arrays)

        monkeypatch.setattr(np, "savez", savez)
    else:
        real_append = RunDir.append
        seen = []

        def append(self, event):
            seen.append(1)
            if len(seen) == 60:  # somewhere in tick 3, a line half written
                self._events.write(event.to_json()[:20])
                raise full
            real_append(self, event)

        monkeypatch.setattr(RunDir, "append", append)
    code, err = agentsim(*RUN, "--checkpoint-every", "2", "--out", tmp_path / "runs")
    assert code == 2
    [error] = _said(err, "error")
    assert "disk full" in error and "tick-000002" in error and "--resume" in error
    [run] = run_dirs(tmp_path / "runs")
    assert [p.name for p in (run / "checkpoints").iterdir()] == ["tick-000002"]
    json.loads((run / "manifest.json").read_text())
    monkeypatch.undo()

    code, err = agentsim("run", "--resume", run, "--headless")
    assert code == 0, err
    assert not _said(err, "warning")
    assert _events(run) == _lines(reference / "events.jsonl")
    assert _keys(run) == _keys(reference)
    _clean(run)


# -- 3. events, LLM record and checkpoint: one unit ------------------------------------------
def test_resume_cuts_both_logs_back_to_the_checkpoint(agentsim, tmp_path, reference,
                                                       checkpointed):
    run = _checkpointed(checkpointed, tmp_path)
    state = json.loads((run / "checkpoints" / "tick-000002" / "state.json").read_text())
    assert state["events_bytes"] > 0 and state["llm_bytes"] > 0
    # Killed after tick 6 was logged but with only tick 2 saved, in the middle of two writes.
    for c in RunDir(run).checkpoints()[1:]:
        shutil.rmtree(c)
    with open(run / "events.jsonl", "a") as f:
        f.write('{"tick":6,"time":"2023-02-13T07:00:00","type":"tick_en')
    with open(run / "llm.jsonl", "a") as f:
        f.write('{"key": "abc", "template_id": "day_')
    code, err = agentsim("run", "--resume", run, "--headless")
    assert code == 0, err
    _clean(run)
    assert _events(run) == _lines(reference / "events.jsonl")
    assert _keys(run) == _keys(reference)  # no answer recorded twice

    # The resumed run replays: same events, no LLM call.
    code, err = agentsim("run", "--replay", run, "--headless", "--out", tmp_path / "replay")
    assert code == 0, err
    [replayed] = run_dirs(tmp_path / "replay")
    assert _lines(replayed / "events.jsonl") == _events(run)
    manifest = json.loads((replayed / "manifest.json").read_text())
    assert manifest["llm_usage"]["total"]["calls"] == 0


# -- 4. one process per run directory -------------------------------------------------------
@pytest.mark.skipif(sys.platform == "win32", reason="flock")
def test_a_second_process_on_a_run_gets_one_line(agentsim, tmp_path):
    import fcntl

    code, _ = agentsim(*RUN, "--out", tmp_path / "runs")
    assert code == 0
    [run] = run_dirs(tmp_path / "runs")
    before = {p.name: p.read_bytes() for p in run.iterdir() if p.is_file()}
    other = os.open(run / "run.lock", os.O_RDWR | os.O_CREAT)  # another process's resume
    try:
        fcntl.flock(other, fcntl.LOCK_EX | fcntl.LOCK_NB)
        code, err = agentsim("run", "--resume", run, "--headless", "--hours", "1")
        assert code == 2
        [error] = _said(err, "error")
        assert str(run) in error and "another agentsim process" in error
        assert {p.name: p.read_bytes() for p in run.iterdir() if p.is_file()} == before
    finally:
        os.close(other)
    code, err = agentsim("run", "--resume", run, "--headless", "--hours", "1")
    assert code == 0, err


# -- 5. a run killed before its manifest ----------------------------------------------------
def test_the_manifest_is_written_before_anything_slow(agentsim, tmp_path, monkeypatch,
                                                     reference):
    """Killed while building (loading the embedder, indexing documents): the run directory
    already has its manifest, so --resume starts it again."""
    import agentsim.cli_run as cli_run

    killed = tmp_path / "killed"

    def build(opts, run_dir, *args, **kw):
        shutil.copytree(run_dir.path, killed)  # what a SIGKILL here would leave
        raise KeyboardInterrupt

    monkeypatch.setattr(cli_run, "_build", build)
    code, _ = agentsim(*RUN, "--out", tmp_path / "runs")
    assert code == 130
    monkeypatch.undo()
    assert (killed / "manifest.json").is_file()
    code, err = agentsim("run", "--resume", killed, "--headless")
    assert code == 0, err
    assert _events(killed) == _lines(reference / "events.jsonl")


def test_resume_of_a_run_without_manifest_says_how_to_start_again(agentsim, tmp_path):
    empty = tmp_path / "runs" / "smallville-s0-20240101-000000"
    (empty / "checkpoints").mkdir(parents=True)
    code, err = agentsim("run", "--resume", empty, "--headless")
    assert code == 2
    [error] = _said(err, "error")
    assert str(empty) in error and "manifest.json" in error and "agentsim run WORLD" in error


# -- 6. bad numbers ------------------------------------------------------------------------
RUN_BAD = [("--hours", "nan"), ("--hours", "inf"), ("--hours", "-inf"), ("--hours", "-1"),
           ("--hours", "0"), ("--ticks", "0"), ("--ticks", "-3"), ("--seed", "-1"),
           ("--checkpoint-every", "0"), ("--checkpoint-every", "-2"),
           ("--max-in-flight", "0"), ("--budget-calls", "-1"), ("--budget-tokens", "-1"),
           ("--budget-usd", "-1"), ("--budget-usd", "nan"), ("--budget-usd", "inf")]


@pytest.mark.parametrize(("option", "value"), RUN_BAD)
def test_bad_numbers_for_run_are_one_line(agentsim, tmp_path, option, value):
    code, err = agentsim("run", str(SMALLVILLE), "--headless", "--embedder", "hash",
                         "--out", tmp_path / "runs", f"{option}={value}")
    assert code == 2
    assert len(err) == 1 and option in err[0], err
    assert not run_dirs(tmp_path / "runs")


@pytest.mark.parametrize(("args", "option"), [
    (["inspect", "RUN", "--agent", "x", "--query", "y", "-k", "-1"], "-k"),
    (["inspect", "RUN", "--agent", "x", "--query", "y", "-k", "0"], "-k"),
    (["sweep", str(SMALLVILLE), "--hours", "nan"], "--hours"),
    (["sweep", str(SMALLVILLE), "--hours", "-1"], "--hours"),
    (["sweep", str(SMALLVILLE), "--ticks", "0"], "--ticks"),
    (["sweep", str(SMALLVILLE), "--workers", "0"], "--workers"),
    (["sweep", str(SMALLVILLE), "--seeds", "1,-2"], "--seeds"),
    (["run", "--resume", "RUN", "--hours", "inf"], "--hours"),
])
def test_bad_numbers_for_other_commands_are_one_line(agentsim, tmp_path, args, option):
    args = [str(tmp_path) if a == "RUN" else a for a in args]
    code, err = agentsim(*args)
    assert code == 2
    assert len(err) == 1 and option in err[0], err


def test_ctrl_c_mid_tick_keeps_the_last_whole_checkpoint(agentsim, tmp_path, monkeypatch,
                                                         reference):
    """Interrupted in the middle of a tick, the half-updated state is not checkpointed: the
    resume starts from the last checkpoint and gives the uninterrupted run's log."""
    import agentsim.engine as engine

    real = engine.resolve
    calls = []

    def resolve(*args):
        calls.append(1)
        if len(calls) == 4:  # tick 3, its steps done and logged, its conversations not yet
            raise KeyboardInterrupt
        return real(*args)

    monkeypatch.setattr(engine, "resolve", resolve)
    code, _ = agentsim(*RUN, "--checkpoint-every", "2", "--out", tmp_path / "runs")
    assert code == 130
    monkeypatch.undo()
    [run] = run_dirs(tmp_path / "runs")
    assert [c.name for c in RunDir(run).checkpoints()] == ["tick-000002"]
    code, err = agentsim("run", "--resume", run, "--headless")
    assert code == 0, err
    assert _events(run) == _lines(reference / "events.jsonl")
    assert _keys(run) == _keys(reference)
    _clean(run)


# -- checkpoints kept few and compact ------------------------------------------------------
def test_only_the_newest_checkpoints_are_kept_and_embeddings_are_stored_once(agentsim,
                                                                             tmp_path):
    code, _ = agentsim(*RUN, "--checkpoint-every", "1", "--keep-checkpoints", "2",
                       "--out", tmp_path / "runs")
    assert code == 0
    [run] = run_dirs(tmp_path / "runs")
    rd = RunDir(run)
    assert [c.name for c in rd.checkpoints()] == ["tick-000005", "tick-000006"]
    # the checkpoints hold row numbers; every distinct vector is in the one float32 file
    with np.load(run / "checkpoints" / "tick-000006" / "arrays.npz") as z:
        assert not [k for k in z.files if k.endswith("/embeddings")]
        rows = [z[k] for k in z.files if k.endswith("/embedding_rows")]
    vectors = np.fromfile(run / "vectors-384.f32", dtype=np.float32).reshape(-1, 384)
    distinct = np.unique(vectors, axis=0)
    assert len(distinct) == len(vectors)  # stored once each
    assert max(int(r.max()) for r in rows if len(r)) < len(vectors)
    state, arrays = rd.latest_checkpoint()
    for aid, s in state["agents"].items():  # memories come back with their own vectors
        emb = arrays[f"{aid}/embeddings"]
        assert emb.dtype == np.float32 and emb.shape == (len(s["memory"]["text"]), 384)
        np.testing.assert_allclose(np.linalg.norm(emb, axis=1), 1.0, atol=1e-3)
    rd.close()


def test_a_checkpoint_with_inline_embeddings_still_loads_and_resumes(agentsim, tmp_path,
                                                                    reference):
    """A run directory written before the vector file (each checkpoint's embeddings inside
    its arrays.npz, every checkpoint kept) still resumes to the same events."""
    code, _ = agentsim(*RUN, "--checkpoint-every", "2", "--keep-checkpoints", "0",
                       "--out", tmp_path / "runs")
    assert code == 0
    [run] = run_dirs(tmp_path / "runs")
    rd = RunDir(run)
    for ck in rd.checkpoints():  # rewrite each the old way, then drop the vector file
        _, arrays = load_checkpoint(ck)
        with open(ck / "arrays.npz", "wb") as f:
            np.savez(f, **arrays)
    (run / "vectors-384.f32").unlink()
    rd.close()
    assert len(RunDir(run).checkpoints()) == 3
    shutil.rmtree(run / "checkpoints" / "tick-000006")
    code, err = agentsim("run", "--resume", run, "--headless")
    assert code == 0, err
    assert _events(run) == _lines(reference / "events.jsonl")


def test_a_checkpoint_whose_vectors_are_gone_is_skipped(agentsim, tmp_path, checkpointed):
    run = _checkpointed(checkpointed, tmp_path)
    os.truncate(run / "vectors-384.f32", 384 * 4)  # one row left of many
    with pytest.raises(Exception, match="no usable checkpoint") as e:
        RunDir(run).resume_point(warn=None)
    assert "embeddings are missing" in str(e.value)
