"""The three protocol worlds over the OpenAI-compatible HTTP path a hosted model is reached
by (here a fake server on 127.0.0.1 answering as the offline mind, half of its answers
malformed: re-asked, and when that fails too answered by the offline mind as a fallback).
Every run ends, writes its measures and says who gave the answers it counts, so a fallback
never passes for the model's answer. (Which requests get a fault depends on the order they
arrive in, so the counts vary a little from run to run; what is asserted does not.)"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from agentsim.experiment import Simulation
from agentsim.llm.factory import client_for
from agentsim.llm.offline import OfflineMind
from agentsim.llm.openai_backend import OpenAIBackend
from agentsim.testing import FakeOpenAIServer

WORLDS = Path(__file__).resolve().parents[1] / "worlds"
FROM_SERVER = {"model", "repaired", "reasked"}


@pytest.mark.parametrize("world, ticks", [("debate", 3), ("classroom", None), ("studio", 3)])
def test_a_protocol_world_over_http_marks_who_answered(tmp_path, world, ticks):
    with FakeOpenAIServer(faults={"malformed": 0.5}, seed=3) as server:
        backend = OpenAIBackend("fake-model", base_url=server.base_url, name="compat",
                                send_request_meta=True)
        llm = client_for(backend, fallback=OfflineMind(), backoff_base=0.01, backoff_max=0.05)
        sim = Simulation.load(str(WORLDS / world), seed=0, embedder="hash", llm=llm,
                              out=str(tmp_path))
        if ticks is None:
            sim.run(until=lambda s: s.protocol.finished)
        else:
            sim.run(ticks=ticks)
        sim.close()
    assert server.by_status.get("200", 0) > 0
    summary = json.loads((sim.run_dir.path / "measures.json").read_text())
    by_origin = summary["answers_by_origin"]
    assert set(by_origin) <= FROM_SERVER | {"fallback"}, by_origin
    assert sum(by_origin.get(o, 0) for o in FROM_SERVER) > 0
    fallbacks = by_origin.get("fallback", 0)
    assert summary["fallback_answers"] == fallbacks
    assert summary["answered_by"] == ("model + fallbacks" if fallbacks else "model")
    assert summary["answered_by"] != "scripted baseline"
    # with fallbacks among them, the accuracy of the model's own answers is given apart
    assert bool(fallbacks) == any(k.endswith("_model") for k in summary)
    rows = (sim.run_dir.path / "measures.csv").read_text()
    assert "offline" not in rows.split("\n", 1)[1]  # no row passes for the offline baseline
