"""README's "From Python" snippet runs as written, made quick: fewer sim-hours and the hash
embedder (the calls, their names and their arguments are the README's)."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def from_python_snippet() -> str:
    text = (ROOT / "README.md").read_text()
    section = text[text.index("## From Python"):]
    return re.search(r"```python\n(.*?)```", section, re.S).group(1)


def test_the_from_python_snippet_runs(monkeypatch, capsys):
    code = from_python_snippet()
    quick = (code.replace("seed=1,", 'seed=1, embedder="hash",')
             .replace("hours=2", "ticks=2").replace("hours=8", "ticks=2"))
    assert quick.count("ticks=2") == 3 and 'embedder="hash"' in quick  # the README's shape
    monkeypatch.chdir(ROOT)
    env: dict = {}
    exec(compile(quick, "README.md", "exec"), env)
    sim, treatment = env["sim"], env["treatment"]
    assert sim.clock.tick == 2 and treatment.clock.tick == 4
    assert sim.settings.max_turns == 4 and treatment.settings == sim.settings
    assert len(env["answers"]) == len(sim.agents)
    assert "closing for good" in next(e.text for e in treatment.events if e.type == "whispered")
    for s in (env["control"], treatment, sim):
        s.close()
