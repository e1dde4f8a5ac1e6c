"""Sweeps: the grid, the statistics, local processes and Ray giving the same numbers."""

from __future__ import annotations

import math
from pathlib import Path

import pandas as pd
import pytest

from agentsim.errors import UserError
from agentsim.sweeps import cells, mean_ci, parse_grid, sweep, t_quantile

TINY = str(Path(__file__).resolve().parent / "fixtures" / "tiny_world")
GRID = {"max_turns": [2, 6], "weights": [(1, 1, 1), (3, 1, 1)]}


def test_grid_cells_and_parsing():
    assert cells(None) == [{}]
    assert cells({"max_turns": [2, 4], "attention": [3]}) == [
        {"max_turns": 2, "attention": 3}, {"max_turns": 4, "attention": 3}]
    assert parse_grid(["weights=1:1:1,1:0.5:3", "reflection_threshold=100,150"]) == {
        "weights": [(1.0, 1.0, 1.0), (1.0, 0.5, 3.0)], "reflection_threshold": [100, 150]}
    for bad, needle in [("colour=red", "unknown sweep parameter 'colour'"),
                        ("max_turns", "use KEY=V1,V2"),
                        ("max_turns=many", "bad value 'many'")]:
        with pytest.raises(UserError, match=needle):
            parse_grid([bad])


def test_confidence_intervals():
    mean, std, n, ci = mean_ci([1, 2, 3])
    assert (mean, std, n) == (2.0, 1.0, 3)
    assert ci == pytest.approx(4.303 / math.sqrt(3))
    assert t_quantile(0.975, 40) == pytest.approx(2.0211, abs=1e-3)  # beyond the table
    assert t_quantile(0.95, 10) == pytest.approx(1.8125, abs=2e-3)
    assert math.isnan(mean_ci([5.0])[3]) and mean_ci([])[2] == 0


def test_a_sweep_in_processes_matches_one_run_at_a_time(tmp_path, capfd):
    parallel = sweep(TINY, {"max_turns": [2, 6]}, seeds=[0, 1, 2], ticks=6, embedder="hash",
                     out=tmp_path / "p", workers=2, backend="local", progress=True)
    bars = capfd.readouterr().err
    serial = sweep(TINY, {"max_turns": [2, 6]}, seeds=[0, 1, 2], ticks=6, embedder="hash",
                   out=tmp_path / "s", workers=1, backend="local")
    # a bar per run, filled by the ticks the workers report; none when stderr is no terminal
    for cell, turns in ((0, 2), (1, 6)):
        for seed in (0, 1, 2):
            assert f"cell {cell} (max_turns={turns}) seed {seed}" in bars, bars
    assert bars.count("6/6") >= 6 and "failed" not in bars
    assert "seed 0" not in capfd.readouterr().err
    assert parallel.runs["error"].isna().all()
    assert len(parallel.runs) == 6 and set(parallel.runs["seed"]) == {0, 1, 2}
    assert parallel.summary.equals(serial.summary)
    row = parallel.summary[parallel.summary["measure"] == "heard: party"].iloc[0]
    assert row["n"] == 3 and 0 < row["mean"] <= 1
    for run_dir in parallel.runs["run_dir"]:
        assert (Path(run_dir) / "events.jsonl").stat().st_size > 0
    assert (tmp_path / "p" / "summary.csv").is_file() and (tmp_path / "p" / "runs.csv").is_file()
    assert "max_turns=2" in parallel.table()


def fails_on_seed_one(sim):
    if sim.seed == 1:
        raise RuntimeError("no luck")
    return {"ticks": float(sim.clock.tick)}


def test_a_failed_run_is_a_row_with_its_error(tmp_path):
    result = sweep(TINY, seeds=[0, 1], ticks=2, embedder="hash", measure=fails_on_seed_one,
                   out=tmp_path, workers=1, backend="local")
    errors = dict(zip(result.runs["seed"], result.runs["error"], strict=True))
    assert result.runs["error"].isna().tolist() == [True, False]
    assert "RuntimeError: no luck" in errors[1]
    [row] = result.summary.to_dict("records")
    assert row["measure"] == "ticks" and row["mean"] == 2.0 and row["n"] == 1


def test_bad_input_is_one_clear_error(tmp_path):
    with pytest.raises(UserError, match="unknown sweep parameter 'colour'"):
        sweep(TINY, {"colour": [1]}, ticks=1, out=tmp_path)
    with pytest.raises(UserError, match="give hours or ticks"):
        sweep(TINY, ticks=1, hours=1, out=tmp_path)
    with pytest.raises(UserError, match="define it at module level"):
        sweep(TINY, seeds=[0, 1], ticks=1, embedder="hash", measure=lambda sim: {},
              out=tmp_path, workers=2, backend="local")


@pytest.mark.slow
def test_ray_gives_the_same_numbers_as_local_processes(tmp_path, capfd):
    ray = pytest.importorskip("ray")
    local = sweep(TINY, GRID, seeds=[0, 1, 2], ticks=6, embedder="hash", out=tmp_path / "l",
                  workers=2, backend="local")
    capfd.readouterr()
    try:
        on_ray = sweep(TINY, GRID, seeds=[0, 1, 2], ticks=6, embedder="hash",
                       out=tmp_path / "r", backend="ray")  # starts a local Ray
    finally:
        ray.shutdown()
    out = capfd.readouterr()
    assert on_ray.backend == "ray" and local.backend == "local"
    assert len(on_ray.runs) == 12 and on_ray.runs["error"].isna().all()
    assert on_ray.summary.equals(local.summary)
    # Ray's token-authentication advice is not shown to the user of a sweep
    assert "Token authentication" not in out.out + out.err


def test_only_rays_token_auth_warning_is_dropped():
    import logging

    from agentsim.sweeps import _RAY_AUTH_LOGGER, quiet_ray_auth_warning

    seen: list[str] = []
    handler = logging.Handler()
    handler.emit = lambda record: seen.append(record.getMessage())
    log = logging.getLogger(_RAY_AUTH_LOGGER)
    log.addHandler(handler)
    try:
        with quiet_ray_auth_warning():
            log.warning("Token authentication is enabled for this Ray cluster. Set ...")
            log.warning("Token authentication is disabled for this Ray cluster. Anyone ...")
            log.warning("Something else went wrong")
        assert seen == ["Something else went wrong"]
        log.warning("Token authentication is enabled (outside the sweep)")
        assert seen[-1] == "Token authentication is enabled (outside the sweep)"
    finally:
        log.removeHandler(handler)


def _wide_runs() -> pd.DataFrame:
    measures = {"heard: Valentine's Day party at Hobbs Cafe": 0.25,
                "conversations per resident": 3.5, "relationship density": 0.12,
                "reflections per resident": 1.0, "heard: Smallville mayoral election": 0.5}
    return pd.DataFrame([{"cell": c, "max_turns": t, "weights": w, "reflection_threshold": r,
                          "seed": s, **{m: v + s for m, v in measures.items()},
                          "run_dir": f"runs/cell{c:03d}/run{s}", "error": None}
                         for c, (t, w, r) in enumerate([(2, (1, 1, 1), 100), (6, (3, 1, 1), 150)])
                         for s in (0, 1, 2)])


def test_the_summary_prints_whole():
    from agentsim.sweeps import summarize

    summary = summarize(_wide_runs(), ["max_turns", "weights", "reflection_threshold"])
    assert isinstance(summary, pd.DataFrame) and len(summary) == 10
    with pd.option_context("display.width", 80, "display.max_columns", 4):
        text = str(summary)
        assert "..." not in text and "…" not in text
        assert "heard: Valentine's Day party at Hobbs Cafe" in text
        header = text.splitlines()[0].split()
        assert {"measure", "mean", "std", "n", "ci95", "weights"} <= set(header)
        assert "..." not in str(summary[summary["measure"] == "relationship density"])
        assert "..." in str(pd.DataFrame(summary))  # what a plain DataFrame would print


def test_a_plots_title_and_labels_are_inside_the_figure():
    from agentsim.sweep_summary import measure_figure
    from agentsim.sweeps import _show, summarize

    params = ["max_turns", "weights", "reflection_threshold"]
    summary = summarize(_wide_runs(), params)
    fig = measure_figure(summary, params, "heard: Valentine's Day party at Hobbs Cafe", _show)
    fig.canvas.draw()
    inside = fig.bbox
    ax = fig.axes[0]
    [title] = [t for t in fig.texts if "mean and 95 % CI" in t.get_text()]
    for text in [title, *ax.get_xticklabels(), ax.yaxis.label]:
        box = text.get_window_extent()
        assert inside.x0 <= box.x0 and box.x1 <= inside.x1, text.get_text()
        assert inside.y0 <= box.y0 and box.y1 <= inside.y1, text.get_text()
    assert "Valentine's Day party" in title.get_text()


def dies_on_seed_one(sim):
    import os

    if sim.seed == 1:
        os._exit(3)  # a crash that takes the worker process with it
    return {"ticks": float(sim.clock.tick)}


@pytest.mark.slow
def test_a_run_that_kills_its_worker_loses_only_its_own_row(tmp_path):
    result = sweep(TINY, seeds=[0, 1], ticks=1, embedder="hash", measure=dies_on_seed_one,
                   out=tmp_path, workers=2, backend="local")
    errors = dict(zip(result.runs["seed"], result.runs["error"], strict=True))
    assert pd.isna(errors[0]) and "worker process died" in errors[1]
    [row] = result.summary.to_dict("records")
    assert row["n"] == 1 and row["mean"] == 1.0
    assert "seed" in (tmp_path / "runs.csv").read_text()


def test_sweep_command_rejects_a_bad_grid_in_one_line(tmp_path):
    from click.testing import CliRunner

    from agentsim.cli import main

    for grid, needle in [("colour=1", "unknown sweep parameter 'colour'"),
                         ("weights=1:1", "bad value (1.0, 1.0) for weights: 3 numbers"),
                         ("max_turns=0", "bad value 0 for max_turns"),
                         ("decay=x", "bad value 'x'")]:
        r = CliRunner().invoke(main, ["sweep", TINY, "--grid", grid, "--ticks", "1", "-o",
                                      str(tmp_path)])
        assert r.exit_code == 2, r.output
        [line] = r.output.strip().splitlines()
        assert line.startswith("agentsim: error: ") and needle in line
    r = CliRunner().invoke(main, ["sweep", TINY, "--seeds", "1,x", "--ticks", "1"])
    assert r.exit_code == 2 and "bad seeds" in r.output
    assert not any(tmp_path.iterdir())  # nothing ran
