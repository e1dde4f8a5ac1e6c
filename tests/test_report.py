"""The report's figures, read as matplotlib objects: the event's window is shaded, the
relationship graph's names do not overlap, and walking through a place is not a stay."""

from __future__ import annotations

import itertools
from datetime import timedelta
from pathlib import Path

import matplotlib.dates as mdates
import pytest

from agentsim.experiment import Simulation
from agentsim.metrics import from_run
from agentsim.report_figures import (
    LABELLED,
    day_stays,
    diffusion_plot,
    graph_plot,
    timeline_plot,
    top_by_degree,
)

SMALLVILLE = Path(__file__).resolve().parent.parent / "worlds" / "smallville"


@pytest.fixture(scope="module")
def morning(tmp_path_factory):
    """Smallville from 06:00 to 11:00 (offline mind, hash embedder): walks and talks."""
    sim = Simulation.load(str(SMALLVILLE), seed=1, embedder="hash",
                          out=str(tmp_path_factory.mktemp("runs")))
    sim.run(hours=5)
    path = sim.run_dir.path
    sim.close()
    return from_run(path)


def test_diffusion_shades_the_events_window(morning):
    start = morning.world.spec.start
    window = (start + timedelta(hours=1), start + timedelta(hours=2))
    fig = diffusion_plot(morning, ["a morning meeting", "a later party"],
                         {"a morning meeting": window,
                          "a later party": (start + timedelta(days=2),
                                            start + timedelta(days=2, hours=2))})
    inside, later = fig.axes[0], fig.axes[1]
    spans = [p for p in inside.patches if p.get_label().startswith("the event")]
    assert len(spans) == 1
    box = spans[0].get_bbox()  # in data units (days) on the time axis
    assert box.x0 == pytest.approx(mdates.date2num(window[0]))
    assert box.x1 == pytest.approx(mdates.date2num(window[1]))
    # a window after the run is named in its panel rather than stretching the time axis
    assert not [p for p in later.patches if p.get_label().startswith("the event")]
    assert any("after this run" in t.get_text() for t in later.texts)
    assert mdates.num2date(later.get_xlim()[1]).replace(tzinfo=None) < window[1] + \
        timedelta(days=1)


def test_relationship_graph_names_only_the_best_connected_and_no_names_overlap(morning):
    fig = graph_plot(morning)
    ax = fig.axes[0]
    names = [t for t in ax.texts if t.get_text()]
    assert 0 < len(names) <= LABELLED < len(morning.world.personas)
    u = morning.relationship_graph().to_undirected()
    assert {t.get_text() for t in names} == set(top_by_degree(u, LABELLED))
    fig.canvas.draw()
    boxes = [t.get_window_extent() for t in names]
    for a, b in itertools.combinations(range(len(boxes)), 2):
        assert not boxes[a].overlaps(boxes[b]), (names[a].get_text(), names[b].get_text())
    assert "named: the 10 with the most ties" in ax.get_title()


def test_the_days_plot_does_not_show_walking_through_as_a_stay(morning):
    end = morning.event_list[-1].time
    walkers = {e.agent for e in morning.event_list
               if e.type == "moved" and e.dst != e.destination}
    assert walkers, "no one walked through a place on the way this morning"
    agent = sorted(walkers)[0]
    spans = day_stays(morning, agent, end)
    places = morning.world.places
    passed = {places.name(places.area_of(e.dst) or e.dst) for e in morning.event_list
              if e.type == "moved" and e.agent == agent and e.dst != e.destination}
    stayed = {area for area, _, _, transit in spans if not transit}
    assert any(transit for *_, transit in spans)
    # a place only walked through is no row of stays; the walk is on its own row
    fig = timeline_plot(morning, agent, end)
    rows = [t.get_text() for t in fig.axes[0].get_yticklabels()]
    assert rows[-1] == "(on the way)"
    assert set(rows[:-1]) == stayed
    for area in passed - stayed:
        assert area not in rows
    # the spans cover the day without gaps
    assert spans[0][1] == morning.world.spec.start and spans[-1][2] == end
    assert all(a[2] == b[1] for a, b in itertools.pairwise(spans))
