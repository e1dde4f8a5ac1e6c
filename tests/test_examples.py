"""Every example runs, briefly, offline."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = sorted((ROOT / "examples").glob("*.py"))
FEWER = {"sweep_retrieval_weights.py": ["--seeds", "0,1"]}  # 3 x 2 runs, not 3 x 3
SLOW = {"sweep_retrieval_weights.py", "fork_rumour.py"}


@pytest.mark.parametrize("path", [pytest.param(p, marks=pytest.mark.slow) if p.name in SLOW
                                  else p for p in EXAMPLES], ids=lambda p: p.name)
def test_example_runs(path, tmp_path):
    args = [sys.executable, str(path), "--hours", "1", "--embedder", "hash",
            *FEWER.get(path.name, [])]
    if '"--out"' in path.read_text():  # examples that write files write them here
        args += ["--out", str(tmp_path / "out")]
    out = subprocess.run(args, cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.strip()
    if "--out" in args:
        written = {p.suffix for p in (tmp_path / "out").rglob("*") if p.is_file()}
        assert ".csv" in written, written
        if "savefig" in path.read_text() or ".plot(" in path.read_text():
            assert ".png" in written, written
