"""The evaluation's figures: TrueSkill per condition beside the paper's, and the spread of the
two pieces of news and the network density over time per condition. Skipped, with one
printed line, when matplotlib is not installed."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

from agentsim.evaluate.conditions import PAPER_TRUESKILL


def plot(result: dict[str, Any], folder: Path) -> list[Path]:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("agentsim evaluate: matplotlib is not installed, so no plots were drawn")
        return []
    conds = result["conditions"]
    tag = " (offline mind: a rule baseline)" if result.get("offline_baseline") else ""
    out: list[Path] = []

    fig, ax = plt.subplots(figsize=(8, 4))
    xs = range(len(conds))
    ax.bar([x - 0.2 for x in xs], [c["trueskill"]["mu"] for c in conds], 0.4,
           yerr=[c["trueskill"]["sigma"] for c in conds], capsize=3, label="ours")
    ax.bar([x + 0.2 for x in xs], [PAPER_TRUESKILL.get(c["name"], 0.0) for c in conds], 0.4,
           label="paper")
    ax.set_xticks(list(xs), [c["label"].replace(", ", ",\n") for c in conds], fontsize=8)
    ax.set_ylabel("TrueSkill mu (error bar: sigma)")
    ax.set_title("Believability by condition" + tag, fontsize=10)
    ax.legend()
    fig.tight_layout()
    out.append(_save(fig, folder / "trueskill.png", plt))

    series = [k for k in conds[0]["measures"].get("series", {})]
    if series:
        fig, axes = plt.subplots(1, len(series), figsize=(5 * len(series), 3.5))
        for ax, key in zip([axes] if len(series) == 1 else axes, series, strict=True):
            for c in conds:
                s = c["measures"]["series"][key]
                value = "density" if key == "density" else "share"
                ax.plot([datetime.fromisoformat(t) for t in s["time"]], s[value],
                        label=c["label"])
            ax.set_title(key if key == "density" else f"{key} known", fontsize=10)
            ax.tick_params(axis="x", labelrotation=30, labelsize=7)
        (axes if len(series) == 1 else axes[0]).legend(fontsize=7)
        fig.suptitle("End to end by condition" + tag, fontsize=10)
        fig.tight_layout()
        out.append(_save(fig, folder / "end_to_end.png", plt))
    return out


def _save(fig: Any, path: Path, plt: Any) -> Path:
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
