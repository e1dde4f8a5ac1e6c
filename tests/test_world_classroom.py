"""worlds/classroom on the offline mind: the quiz is taken by interview before and after, the
lesson is a moderated group conversation in which the teacher speaks from the world's
knowledge/ (RAG), and the measures land in the run directory."""

from __future__ import annotations

import json
from pathlib import Path

from agentsim.events import Conversation, Measured
from agentsim.experiment import Simulation
from agentsim.protocols.classroom import QuizQuestion, marked, read_quiz

CLASSROOM = Path(__file__).resolve().parents[1] / "worlds" / "classroom"
NOTES = (CLASSROOM / "knowledge" / "physics_notes.md").read_text()


def test_the_judge_wants_the_answer_and_none_of_the_wrong_ones():
    q = QuizQuestion(id="f", question="Do heavy things fall faster?", answer="same rate",
                     wrong=["heavy things fall faster"])
    assert marked(q, "They fall at the same rate.")
    assert not marked(q, "Heavy things fall faster.")
    assert not marked(q, "Heavy things fall faster, or at the same rate?")
    assert not marked(q, "I don't know.")
    assert len(read_quiz(CLASSROOM / "quiz.yaml")) == 3


def test_a_lesson_between_two_quizzes(tmp_path):
    sim = Simulation.load(str(CLASSROOM), seed=0, embedder="hash", out=str(tmp_path / "run"))
    sim.run(until=lambda s: s.protocol.finished)
    sim.close()
    rows = [e.values for e in sim.events if isinstance(e, Measured)]
    students = ["lena_fischer", "mia_tan", "omar_haddad", "sam_okoro"]
    for phase in ("before", "after"):
        got = [(r["agent"], r["question"]) for r in rows if r["phase"] == phase]
        assert got == [(a, q) for a in students for q in ("falling", "moon", "seasons")]
    # before the lesson each student answers from its own memories: its misconception
    sam = [r for r in rows if r["agent"] == "sam_okoro" and r["phase"] == "before"]
    assert "heavy things fall faster" in sam[0]["answer"] and not sam[0]["correct"]
    # the lesson: one moderated talk per topic, the teacher between every two students
    talks = [e for e in sim.events if isinstance(e, Conversation)]
    turns = [t for c in talks for t in c.turns]
    assert len(turns) == 3 * 2 * len(students)
    assert [t.speaker for t in turns[:4]] == ["rosa_alvarez", "lena_fischer",
                                              "rosa_alvarez", "mia_tan"]
    teacher = [t.text for t in turns if t.speaker == "rosa_alvarez"]
    # the offline teacher quotes its sources: every line it says is in the notes
    for text in teacher:
        line = text.split(", ", 1)[1] if text.split(",")[0] in (
            "Lena", "Mia", "Omar", "Sam") else text
        assert line[1:] in NOTES, text
    # what the students heard, they remember
    heard = [r.text for r in sim.agents["sam_okoro"].memory.records()]
    assert any(t.startswith('Rosa Alvarez said to the group: "') for t in heard)
    summary = json.loads((sim.run_dir.path / "measures.json").read_text())
    assert summary["protocol"] == "classroom"
    after = [r["correct"] for r in rows if r["phase"] == "after"]
    assert summary["class_score_after"] == sum(after) / len(after)
    assert set(summary["by_student_before"]) == set(students)
    from agentsim.report import write_report

    text = write_report(sim.run_dir.path).read_text()
    assert "## Measures (classroom)" in text and "| class score after |" in text
    assert "| key | by student before | by student after |" in text
    assert "| sam_okoro | 0.00 |" in text
