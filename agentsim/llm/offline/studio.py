"""The offline team in the studio: a scripted baseline that says what it does. None of its
rules reads the world's tests; the lead and the tester read only what a sandbox run gave.

    code_change   the developer takes one of the team's sketches (the world's sketches/
                  folder, some buggy) it has not proposed yet, drawn by the run's seed; when
                  it has proposed them all, it draws among all of them; with no sketch it
                  proposes the module unchanged. It reads neither the tests, the tester's
                  report nor the milestone: what it proposes is a draw, not a fix.
    code_review   the lead accepts the candidate exactly when its run passed more tests than
                  the shared module's (a gate on the run's count, as a CI check would be),
                  and sets as the next milestone the first test the kept module fails.
    test_report   the tester chooses the first three failing tests, in the run's order, and
                  reports the count and their names.

Every draw is a coin of the run seed and the decision's parts (`coins`)."""

from __future__ import annotations

from agentsim.contracts.studio import CodeChangeVars, CodeReviewVars, TesterReportVars
from agentsim.llm.offline.coins import pick

TOOK = "Took the sketch "  # how the offline developer's summary names what it proposed


def code_change(v: CodeChangeVars, seed: int) -> dict:
    if not v.sketches:
        return {"code": v.artifact, "summary": "No change: I have no sketch to work from."}
    tried = {e.removeprefix(TOOK).rstrip(".") for e in v.earlier if e.startswith(TOOK)}
    fresh = [k for k in v.sketches if k["name"] not in tried] or list(v.sketches)
    chosen = pick(fresh, seed, "sketch", v.persona["name"], len(v.earlier))
    return {"code": chosen["code"], "summary": f"{TOOK}{chosen['name']}."}


def code_review(v: CodeReviewVars, seed: int) -> dict:
    new, old = v.candidate["passed"], v.artifact["passed"]
    accept = new > old
    kept = v.candidate if accept else v.artifact
    failing = [f["test"] for f in kept.get("failures", [])]
    milestone = f"Make {failing[0]} pass." if failing else "Keep every test passing."
    total = v.candidate["total"]
    text = (f"Accepted: {new} of {total} tests pass, up from {old}." if accept
            else f"Not accepted: {new} of {total} tests pass, and the module has {old}.")
    return {"accept": accept, "milestone": milestone, "text": f"{text} Next: {milestone}"}


def test_report(v: TesterReportVars, seed: int) -> dict:
    failing = [f["test"] for f in v.run.get("failures", [])]
    head = f"{v.run['passed']} of {v.run['total']} tests pass"
    if v.run.get("error"):
        head += f" ({v.run['error']})"
    if not failing:
        return {"focus": [], "text": f"{head}."}
    return {"focus": failing[:3], "text": f"{head}. Failing first: {', '.join(failing[:3])}."}
