"""The figures of a run's report (`agentsim report`), each built as a matplotlib figure by a
`*_plot` function (which tests read) and saved as PNG by its `*_figure` twin."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

from agentsim.metrics import Metrics


def _plt():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _save(fig: Any, path: Path) -> Path:
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    _plt().close(fig)
    return path


def _time_axis(ax: Any) -> None:
    """Ticks as 'Mon 06:00' (sim time), slanted."""
    import matplotlib.dates as mdates

    ax.xaxis.set_major_locator(mdates.AutoDateLocator(minticks=4, maxticks=9))
    ax.xaxis.set_major_formatter(mdates.DateFormatter("%a %H:%M"))
    for label in ax.get_xticklabels():
        label.set_rotation(30)
        label.set_horizontalalignment("right")


def diffusion_figure(m: Metrics, subjects: list[str], path: Path,
                     windows: dict[str, tuple[datetime, datetime]] | None = None) -> Path:
    return _save(diffusion_plot(m, subjects, windows), path)


def diffusion_plot(m: Metrics, subjects: list[str],
                   windows: dict[str, tuple[datetime, datetime]] | None = None) -> Any:
    """One panel per piece of news (curves that coincide would hide each other in one),
    sharing the axes: the share of residents who know it, tick by tick. A scheduled event's
    window (`windows`: title -> start, end) is shaded, so a reader sees whether the news
    spread in time for it; a window past the end of the run shows where it would be."""
    plt = _plt()
    windows = windows or {}
    cols = 1 if len(subjects) == 1 else 2
    rows = -(-len(subjects) // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(7.5 if cols == 2 else 7, 0.6 + 2.4 * rows),
                             sharex=True, sharey=True, squeeze=False)
    colours = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    for i, s in enumerate(subjects):
        ax = axes[i // cols][i % cols]
        d = m.diffusion(s)
        ax.plot(d["time"], d["share"] * 100, linewidth=2, color=colours[i % len(colours)])
        ax.fill_between(d["time"], d["share"] * 100, alpha=0.15,
                        color=colours[i % len(colours)])
        end = d["share"].iloc[-1] if len(d) else 0.0
        ax.set_title(f"{s}: {end:.0%} at the end", fontsize=9)
        if s in windows and len(d):
            _shade_window(ax, windows[s], d["time"].iloc[0], d["time"].iloc[-1])
        ax.set_ylim(0, 105)
        ax.grid(alpha=0.3)
        if i % cols == 0:
            ax.set_ylabel("know it (%)", fontsize=8)
        _time_axis(ax)
        ax.tick_params(labelsize=7)
    for j in range(len(subjects), rows * cols):  # an empty slot in the last row
        axes[j // cols][j % cols].axis("off")
        above = axes[j // cols - 1][j % cols]
        above.xaxis.set_tick_params(labelbottom=True)
        _time_axis(above)
    fig.suptitle("How the news spread: residents who know, over time", fontsize=11)
    return fig


def _shade_window(ax: Any, window: tuple[datetime, datetime], first: datetime,
                  last: datetime) -> None:
    """Shade the part of an event's window the run covers; a window outside the run is
    named in the panel instead, since stretching the shared time axis to a day days away
    would flatten every curve."""
    start, end = window
    label = f"the event: {start:%a %b %d %H:%M}-{end:%H:%M}"
    if start <= last and end >= first:
        ax.axvspan(max(start, first), min(end, last), color="#dd8452", alpha=0.2, lw=0,
                   label=label)
        ax.legend(loc="upper left", fontsize=7, frameon=False)
        return
    where = "after" if start > last else "before"
    ax.text(0.99 if where == "after" else 0.01, 0.95, f"{label} ({where} this run)",
            transform=ax.transAxes, ha="right" if where == "after" else "left", va="top",
            fontsize=7, color="#b55d2a")


LABELLED = 10  # the relationship graph names its best-connected residents only


def graph_figure(m: Metrics, path: Path) -> Path:
    return _save(graph_plot(m), path)


def graph_plot(m: Metrics, labelled: int = LABELLED) -> Any:
    """The relationship graph at the end. Twenty-five names in a spring layout overlap, so
    only the `labelled` residents with the most ties are named (the others are dots, which
    the title says) and the layout is spread wider than networkx's default."""
    import networkx as nx
    from matplotlib.lines import Line2D

    plt = _plt()
    g = m.relationship_graph()
    talks = m.conversations_per_agent()
    fig, ax = plt.subplots(figsize=(8.5, 7.5))
    u = g.to_undirected()
    # spring layout: numpy only (kamada_kawai would load scipy and its own BLAS)
    pos = nx.spring_layout(u, seed=0, k=2.4 / max(1, len(u)) ** 0.5, iterations=300)
    most = max([int(v) for v in talks.values] + [1])
    sizes = [250 + 1100 * int(talks.get(n, 0)) / most for n in g.nodes]
    talked = [(a, b) for a, b, d in u.edges(data=True)
              if d.get("conversations") or g.get_edge_data(b, a, {}).get("conversations")]
    known = [e for e in u.edges if e not in set(talked)]
    nx.draw_networkx_edges(u, pos, edgelist=known, ax=ax, edge_color="#bbbbbb", width=1.0)
    nx.draw_networkx_edges(u, pos, edgelist=talked, ax=ax, edge_color="#c44e52", width=1.4,
                           alpha=0.8)
    nx.draw_networkx_nodes(u, pos, ax=ax, node_size=sizes, node_color="#4c72b0", alpha=0.9)
    named = top_by_degree(u, labelled)
    for n in named:
        x, y = pos[n]
        ax.annotate(n, (x, y), xytext=(0, -13 - 0.012 * sizes[list(g.nodes).index(n)]),
                    textcoords="offset points", ha="center", va="top", fontsize=8,
                    bbox={"boxstyle": "round,pad=0.15", "fc": "white", "ec": "none",
                          "alpha": 0.8})
    ax.legend(handles=[Line2D([], [], color="#c44e52", lw=1.6, label="talked during the run"),
                       Line2D([], [], color="#bbbbbb", lw=1.2, label="knew each other before"),
                       Line2D([], [], marker="o", ls="", color="#4c72b0", markersize=9,
                              label="size: conversations")],
              loc="lower left", fontsize=8, frameon=False)
    unnamed = f"; named: the {len(named)} with the most ties" if len(named) < len(u) else ""
    ax.set_title(f"Relationships at the end: {len(g)} residents, {len(u.edges)} ties, "
                 f"{len(talked)} of them talked{unnamed}", fontsize=10, wrap=True)
    ax.margins(0.08)
    ax.axis("off")
    return fig


def top_by_degree(g: Any, n: int) -> list[str]:
    """The `n` nodes with the most ties (ties broken by name, so the figure is stable)."""
    return sorted(g.nodes, key=lambda v: (-g.degree(v), str(v)))[:n]


def density_figure(m: Metrics, path: Path) -> Path:
    plt = _plt()
    d = m.density_over_time()
    fig, ax = plt.subplots(figsize=(7, 3))
    ax.plot(d["time"], d["density"], marker="o", markersize=3)
    ax.set_ylabel("network density")
    ax.set_title("Relationship network density (edges / n(n-1))")
    ax.grid(alpha=0.3)
    _time_axis(ax)
    return _save(fig, path)


def conversations_figure(m: Metrics, path: Path) -> Path:
    plt = _plt()
    s = m.conversations_per_agent().sort_values(kind="stable")
    fig, ax = plt.subplots(figsize=(7, max(3, 0.25 * len(s))))
    ax.barh(s.index, s.values, color="#55a868")
    ax.set_xlabel("conversations")
    ax.set_title("Conversations per resident")
    ax.tick_params(axis="y", labelsize=7)
    return _save(fig, path)


def timeline_figure(m: Metrics, agent: str, end: datetime, path: Path) -> Path:
    return _save(timeline_plot(m, agent, end), path)


def day_stays(m: Metrics, agent: str, end: datetime) -> list[tuple[str, datetime, datetime,
                                                                    bool]]:
    """`agent`'s day as (area, from, to, transit) spans, merged where the area stays the same.
    A step onto a place on the way somewhere else (a move whose place is not where the agent
    is heading) is walking through, not a stay: it is marked transit."""
    places = m.world.places
    start = m.world.spec.start
    spans: list[tuple[str, datetime, bool]] = [
        (places.name(places.area_of(m.world.personas[agent].home)
                     or m.world.personas[agent].home), start, False)]
    for e in m.event_list:
        if e.type == "moved" and e.agent == agent:
            area = places.name(places.area_of(e.dst) or e.dst)
            spans.append((area, e.time, e.dst != e.destination))
    out: list[tuple[str, datetime, datetime, bool]] = []
    for i, (area, t0, transit) in enumerate(spans):
        t1 = spans[i + 1][1] if i + 1 < len(spans) else max(end, t0)
        if out and out[-1][0] == area and out[-1][3] == transit:
            out[-1] = (area, out[-1][1], t1, transit)
        elif t1 > t0 or i + 1 == len(spans):
            out.append((area, t0, t1, transit))
    return out


def timeline_plot(m: Metrics, agent: str, end: datetime) -> Any:
    """Where `agent` stayed, hour by hour: one row per area stayed in. Time spent walking
    through places on the way is a thin line on an "on the way" row, not a stay."""
    from matplotlib.lines import Line2D

    plt = _plt()
    spans = day_stays(m, agent, end)
    order = list(dict.fromkeys(a for a, _, _, transit in spans if not transit))
    walking = any(transit for *_, transit in spans)
    rows = [*order, "(on the way)"] if walking else order
    fig, ax = plt.subplots(figsize=(8.5, 0.45 * len(rows) + 1.4))
    for area, t0, t1, transit in spans:
        if transit:
            ax.plot([t0, t1], [len(order)] * 2, linewidth=2, color="#999999")
        else:
            ax.plot([t0, t1], [order.index(area)] * 2, linewidth=8, solid_capstyle="butt",
                    color="#8172b2")
    ax.set_yticks(range(len(rows)), rows, fontsize=8)
    if walking:
        ax.legend(handles=[Line2D([], [], color="#8172b2", lw=6, label="stayed"),
                           Line2D([], [], color="#999999", lw=2,
                                  label="walking through (not a stay)")],
                  loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=7, frameon=False)
    ax.set_title(f"{m.world.personas[agent].name}'s day: where, when")
    ax.grid(axis="x", alpha=0.3)
    _time_axis(ax)
    return fig
