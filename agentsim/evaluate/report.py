"""Writing an evaluation: `evaluation.json` (everything, answers and rankings included),
`evaluation.md` (our figures beside the paper's) and plots when matplotlib is installed.

The tables always say which mind produced the figures: on the offline mind they are a
scripted rule baseline, not a finding about believability or emergent behaviour."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from agentsim.evaluate.conditions import (
    PAPER_ATTENDANCE,
    PAPER_DENSITY,
    PAPER_DIFFUSION,
    PAPER_TRUESKILL,
)
from agentsim.evaluate.measures import DEFINITIONS

BASELINE = ("**These figures come from the offline mind, a scripted rule baseline**: its "
            "residents act, talk and answer by rules, and its judge ranks answers by a stated "
            "rule (most memories drawn on, then most distinct words). They show what the "
            "machinery does, not how believable an agent is; only a run on a real model "
            "compares with the paper.")


def write(result: dict[str, Any], out: str | Path, command: str = "") -> list[Path]:
    """The files of an evaluation in `out`; returns their paths (plots only if matplotlib is
    installed: otherwise one line says they were skipped)."""
    folder = Path(out)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "evaluation.json").write_text(
        json.dumps({**result, "command": command}, indent=2, ensure_ascii=False, default=str)
        + "\n", encoding="utf-8")
    (folder / "evaluation.md").write_text(markdown(result, command), encoding="utf-8")
    written = [folder / "evaluation.json", folder / "evaluation.md"]
    from agentsim.evaluate.plots import plot

    written += plot(result, folder)
    return written


def _pct(x: float | None) -> str:
    return "-" if x is None else f"{x:.0%}"


def _num(x: float | None, digits: int = 2) -> str:
    return "-" if x is None else f"{x:.{digits}f}"


def markdown(result: dict[str, Any], command: str = "") -> str:
    conds = result["conditions"]
    lines = [f"# Evaluation of {result['world']} (Park et al. 2023, Sec. 6-7)", ""]
    if result.get("offline_baseline"):
        lines += [BASELINE, ""]
    lines += [f"World `{result['source']}`, seed {result['seed']}, {result['hours']:g} sim "
              f"hours per condition, LLM `{result['llm']}`, embedder `{result['embedder']}`. "
              f"{len(result['interviews'])} questions ranked by the judge; each condition ran "
              "from the same world, seed, LLM and seed skills, with only the switch changed.",
              ""]
    if command:
        lines += ["Command:", "", f"    {command}", ""]
    lines += ["## Believability: TrueSkill of the judge's rankings", "",
              "| condition | paper mu | our mu | our sigma | mean rank | matches |",
              "|---|---:|---:|---:|---:|---:|"]
    for c in conds:
        t = c["trueskill"]
        lines.append(f"| {c['label']} | {_num(PAPER_TRUESKILL.get(c['name']))} | "
                     f"{_num(t['mu'])} | {_num(t['sigma'])} | {_num(c['mean_rank'])} | "
                     f"{t['matches']} |")
    lines += [f"| human crowdworker | {PAPER_TRUESKILL['human crowdworker']:.2f} | - | - | - "
              "| - |", "",
              "By category (our mu):", "",
              "| condition | " + " | ".join(c for c in conds[0]["trueskill_by_category"])
              + " |", "|---|" + "---:|" * len(conds[0]["trueskill_by_category"])]
    for c in conds:
        lines.append(f"| {c['label']} | " + " | ".join(
            _num(v["mu"]) for v in c["trueskill_by_category"].values()) + " |")
    lines += ["", *_ties(result), "", "## End to end (paper: full architecture, two game days)",
              "",
              "| condition | candidacy known | party known | network density | invited who "
              "came | conversations | reflections | plan events |",
              "|---|---|---|---|---|---:|---:|---:|"]
    (c0, c1), (p0, p1) = PAPER_DIFFUSION["candidacy"], PAPER_DIFFUSION["party"]
    lines.append(f"| paper | {c0:.0%} -> {c1:.0%} | {p0:.0%} -> {p1:.0%} | "
                 f"{PAPER_DENSITY[0]} -> {PAPER_DENSITY[1]} | {PAPER_ATTENDANCE[0]} of "
                 f"{PAPER_ATTENDANCE[1]} | - | - | - |")
    for c in conds:
        m = c["measures"]
        cells = []
        for name in ("candidacy", "party"):
            d = m["diffusion"].get(name)
            cells.append(f"{_pct(d['start'])} -> {_pct(d['end'])}" if d else "-")
        dens = m["density"]
        cells.append(f"{dens['start']:.3f} -> {dens['end']:.3f}" if dens else "-")
        att = m["attendance"]
        cells.append(f"{att['came']} of {att['invited']}" if att else "not reached")
        lines.append(f"| {c['label']} | " + " | ".join(cells)
                     + f" | {m['conversations']} | {m['reflections']} | {m['plans']} |")
    lines += ["", "Memories at the end, by kind:", "",
              "| condition | " + " | ".join(_kinds(conds)) + " |",
              "|---|" + "---:|" * len(_kinds(conds))]
    for c in conds:
        lines.append(f"| {c['label']} | "
                     + " | ".join(str(c["memory_kinds"].get(k, 0)) for k in _kinds(conds))
                     + " |")
    lines += ["", "## How each figure is measured", "",
              *(f"- {name} known: every resident asked at the first and the last tick; a yes "
                f"counts when it cites a memory that tells of it ({text}); a yes without such "
                "evidence is a hallucination, not counted (the event-log measure is kept in "
                "evaluation.json as diffusion_events)." for name, text in DEFINITIONS.items()),
              "- network density: every resident asked about every other (\"Do you know "
              "<name>?\"), a pair counting when the yes cites a memory naming the other, "
              "known pairs / n(n-1), first -> last, as the paper did (relationships plus "
              "conversations: density_conversations in evaluation.json).",
              "- invited who came: residents who knew of the party by its start (host left "
              "out), and those of them at its place during it; \"not reached\" when the run "
              "ends before the party does.",
              "- TrueSkill: every question's answers, one per condition, ranked by the judge "
              "(labels shuffled by the seed); each ranking is a match rated with openskill's "
              "Thurstone-Mosteller model (TrueSkill's: mu 25, sigma 25/3; tau 0, as the "
              "conditions do not change between questions). The paper's "
              "rankings were by 100 human evaluators.", ""]
    return "\n".join(lines)


def _kinds(conds: list[dict[str, Any]]) -> list[str]:
    return sorted({k for c in conds for k in c["memory_kinds"]})


def _ties(result: dict[str, Any]) -> list[str]:
    """How often a condition answered word for word as the first one did: such answers tie,
    and the judge's order between them says nothing (e.g. no reflection before any
    reflection was due)."""
    conds, items = result["conditions"], result["interviews"]
    if len(conds) < 2 or not items:
        return []
    first = conds[0]["name"]
    parts = []
    for c in conds[1:]:
        same = sum(1 for i in items if i["answers"][c["name"]]["text"]
                   == i["answers"][first]["text"])
        parts.append(f"{c['label']}: {same} of {len(items)}")
    return [f"Answers word for word the same as the {conds[0]['label']}'s (ties, which the "
            f"judge orders arbitrarily): " + "; ".join(parts) + "."]
