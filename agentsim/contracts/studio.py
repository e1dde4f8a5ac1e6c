"""The studio's contracts: a team of three writes a small program together (issue 16).

    code_change   the developer proposes the whole module anew, from the task, the shared
                  artifact, the lead's milestone, the tester's report and the team's sketches
    code_review   the lead reviews a candidate by its test run and the artifact's: accept it
                  as the new shared artifact or not, and sets the next milestone
    test_report   the tester reports the shared artifact's test run to the team and chooses
                  the tests the developer should look at next

Every test run is the sandbox's (`agentsim.protocols.studio`), never a model's claim: the
reviewer and the tester are shown what the run gave, and say what they make of it."""

from __future__ import annotations

from typing import Any

from pydantic import Field

from agentsim.contracts import samples as s
from agentsim.contracts.answer import Out
from agentsim.contracts.contract import Contract, Vars
from agentsim.contracts.shapes import Persona

# name, code: one of the team's earlier sketches of the module (some have bugs)
Sketch = dict[str, str]
# test, error: one test the run failed, with its one-line error
Failure = dict[str, str]
# passed, total, failures (a list of Failure), error (the run's own, or ""): one test run
Run = dict[str, Any]


class CodeChangeVars(Vars):
    persona: Persona
    task: str  # what the module must do, as the world states it
    artifact: str  # the shared module as it stands
    milestone: str  # what the lead asked for this iteration
    failures: list[Failure]  # what the tester reported last, the tests it chose first
    sketches: list[Sketch]  # earlier sketches in the world folder
    earlier: list[str]  # the summaries of this developer's earlier proposals, oldest first


class CodeChange(Out):
    code: str = Field(min_length=1, max_length=6000, description="the whole Python module, "
                      "as plain code without Markdown fences",
                      examples=["def word_count(text):\n    return {}\n"])
    summary: str = Field(min_length=3, max_length=200, description="one sentence on what "
                         "changed", examples=["Split on whitespace and count each word."])
    _words = ("summary",)


class CodeReviewVars(Vars):
    persona: Persona
    task: str
    milestone: str  # the milestone set for this iteration
    summary: str  # the developer's summary of the candidate
    candidate: Run  # the candidate's test run
    artifact: Run  # the shared artifact's test run


class CodeReview(Out):
    accept: bool = Field(description="true to make the candidate the shared module",
                         examples=[True])
    milestone: str = Field(min_length=3, max_length=200, description="what the developer "
                           "should do next, in one sentence",
                           examples=["Make the punctuation test pass."])
    text: str = Field(min_length=1, max_length=600, description="what you say to the team, "
                      "one to three sentences", examples=["Good, that fixes the case test."])
    _words = ("milestone", "text")


class TesterReportVars(Vars):
    persona: Persona
    task: str
    tests: list[str]  # the names of the world's tests, in the file's order
    run: Run  # the shared artifact's test run


class TesterReport(Out):
    focus: list[str] = Field(default_factory=list, max_length=8, description="the names of "
                             "the failing tests the developer should look at first",
                             examples=[["test_case_is_ignored"]])
    text: str = Field(min_length=1, max_length=600, description="what you report to the "
                      "team, one to three sentences",
                      examples=["Five of eight pass; the case test still fails."])
    _words = ("text",)


_RUN = {"passed": 5, "total": 8, "error": "", "failures": [
    {"test": "test_case_is_ignored", "error": "assertion failed"},
    {"test": "test_apostrophes_inside_a_word_are_kept", "error": "assertion failed"}]}
_TASK = "word_count(text): how often each word occurs in the text, in lower case."

CODE_CHANGE: Contract[CodeChangeVars, CodeChange] = Contract(
    "code_change", CodeChangeVars, CodeChange, budget=2600,
    trim={"sketches": "first", "earlier": "last", "failures": "first"},
    example=lambda: CodeChangeVars(
        persona=s.PERSONA, task=_TASK, artifact="def word_count(text):\n    return {}\n",
        milestone="Make the case test pass.", failures=_RUN["failures"],
        sketches=[{"name": "lower_split", "code": "def word_count(text):\n    counts = {}\n"
                   "    for w in text.lower().split():\n"
                   "        counts[w] = counts.get(w, 0) + 1\n    return counts\n"}],
        earlier=["Took the sketch split_only."]))

CODE_REVIEW: Contract[CodeReviewVars, CodeReview] = Contract(
    "code_review", CodeReviewVars, CodeReview, budget=1400,
    example=lambda: CodeReviewVars(
        persona=s.PERSONA, task=_TASK, milestone="Make the case test pass.",
        summary="Lower-case the text before splitting it.", candidate=_RUN,
        artifact={"passed": 4, "total": 8, "error": "", "failures": []}))

TEST_REPORT: Contract[TesterReportVars, TesterReport] = Contract(
    "test_report", TesterReportVars, TesterReport, budget=1400,
    example=lambda: TesterReportVars(
        persona=s.PERSONA, task=_TASK, tests=["test_empty_text", "test_case_is_ignored"],
        run=_RUN))
