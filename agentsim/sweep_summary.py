"""How a sweep's results read: its summary table printed whole, and a measure's bar plot
with its title and labels inside the figure. Imported when a sweep has results (pandas and
matplotlib are loaded here, not by `import agentsim.sweeps`)."""

from __future__ import annotations

import textwrap
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pandas as pd


class Summary(pd.DataFrame):
    """A sweep's summary (one row per cell and measure: mean, std, n, ci95). It prints every
    column, row and measure name in full: pandas' default display cuts a wide summary to
    `...` just where the measure and its mean are. Everything else is a DataFrame's."""

    @property
    def _constructor(self) -> type[Summary]:
        return Summary

    def _whole(self) -> Any:
        return pd.option_context("display.max_columns", None, "display.max_rows", None,
                                 "display.max_colwidth", None, "display.expand_frame_repr",
                                 False)

    def __repr__(self) -> str:
        with self._whole():
            return super().__repr__()

    def _repr_html_(self) -> str | None:
        with self._whole():
            return super()._repr_html_()


def plot_measure(summary: pd.DataFrame, params: Sequence[str], measure: str, path: Path,
                 label: Any) -> Path:
    """A bar per cell with its 95 % CI for one measure, as a PNG. Long titles are wrapped to
    the figure's width and the layout is constrained, so neither title nor labels are cut."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig = measure_figure(summary, params, measure, label)
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


def measure_figure(summary: pd.DataFrame, params: Sequence[str], measure: str,
                   label: Any) -> Any:
    """The figure `plot_measure` saves (tests read it)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    s = summary[summary["measure"] == measure]
    labels = [", ".join(f"{k}={label(r[k])}" for k in params) or "defaults"
              for _, r in s.iterrows()]
    width = max(4.5, 1.6 * len(s))
    fig, ax = plt.subplots(figsize=(width, 3.8), layout="constrained")
    ax.bar(range(len(s)), s["mean"], yerr=s["ci95"].fillna(0), capsize=4, color="#4c72b0")
    ax.set_xticks(range(len(s)), [textwrap.fill(x, 28) for x in labels], rotation=15,
                  ha="right", fontsize=8)
    ax.set_ylabel(textwrap.fill(measure, 30), fontsize=9)
    # the title over the whole figure (constrained layout makes room for it), wrapped at the
    # characters of 10 pt text that fit in 85 % of its width
    chars = int(0.85 * width * 72 / (10 * 0.6))
    fig.suptitle(textwrap.fill(f"{measure} (mean and 95 % CI over seeds)", chars),
                 fontsize=10)
    return fig
