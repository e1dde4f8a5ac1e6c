"""The offline mind in group conversations and debates: a scripted baseline that says what it
does, and never reads an answer key.

    group_turn     the moderator invites everyone to speak; a participant answers the last
                   speaker by name and says the first thing it remembers about the topic
                   that is not a memory of what was said in a group (or that it has
                   nothing to add): it voices its own view, it does not parrot
    debate_answer  round 0: the question's arithmetic, worked out, with a slip (an answer off
                   by 1, 2 or 10) at the persona's fixed rate: 10% for a "careful" or
                   "meticulous" persona, 50% for a "hasty" or "careless" one, 30% otherwise;
                   a question with no arithmetic in it is not known ("I don't know").
                   From round 1: with probability 0.7 (0.3 for a "stubborn" persona) it
                   adopts the answer most debaters gave last round (itself included) when
                   that answer has more votes than its own; otherwise it keeps its own.
    answer_judge   the default judge's rule: the normalised answers are equal

Every coin is a hash of the run seed and the decision's parts (`coins`), so a run is
reproducible and each persona and question gets its own draws."""

from __future__ import annotations

import ast
import operator
import re
from collections import Counter

from agentsim.contracts.group import (
    SEPARATOR,
    AnswerJudgeVars,
    DebateAnswerVars,
    GroupTurnVars,
    normalise_answer,
)
from agentsim.llm.offline.coins import coin, pick

_EXPR = re.compile(r"[\d(][\d\s+\-*/x×÷().]*[\d)]")
_OPS = {ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul,
        ast.Div: operator.truediv}


def _slip_rate(innate: list[str]) -> float:
    traits = {t.strip().lower() for t in innate}
    if traits & {"careful", "meticulous"}:
        return 0.1
    if traits & {"hasty", "careless"}:
        return 0.5
    return 0.3


def _evaluate(node: ast.AST) -> float:
    if isinstance(node, ast.Expression):
        return _evaluate(node.body)
    if isinstance(node, ast.Constant) and isinstance(node.value, int | float):
        return float(node.value)
    if isinstance(node, ast.BinOp) and type(node.op) in _OPS:
        return _OPS[type(node.op)](_evaluate(node.left), _evaluate(node.right))
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
        return -_evaluate(node.operand)
    raise ValueError("not arithmetic")


def arithmetic(question: str) -> float | None:
    """The value of the arithmetic in `question` ("What is 17 * 23?" -> 391.0), or None."""
    found = [m.group(0) for m in _EXPR.finditer(question) if re.search(r"[+\-*/x×÷]", m.group(0))]
    if not found:
        return None
    expr = found[0].replace("×", "*").replace("x", "*").replace("÷", "/")
    try:
        return _evaluate(ast.parse(expr, mode="eval"))
    except (ValueError, SyntaxError, ZeroDivisionError):
        return None


def _number(x: float) -> str:
    return str(int(x)) if x == int(x) else f"{x:.2f}".rstrip("0")


def debate_answer(v: DebateAnswerVars, seed: int) -> dict:
    me = v.persona["name"]
    if v.round == 0 or v.previous is None:
        value = arithmetic(v.question)
        if value is None:
            return {"answer": "I don't know", "reasoning": "I cannot work this out."}
        if coin(_slip_rate(v.persona["innate"]), seed, "slip", me, v.question):
            off = pick([1, 2, 10], seed, "slip by", me, v.question)
            sign = 1 if coin(0.5, seed, "slip sign", me, v.question) else -1
            return {"answer": _number(value + sign * off),
                    "reasoning": "I worked it out quickly in my head."}
        return {"answer": _number(value), "reasoning": "I worked it out step by step."}
    given = [v.previous, *(o["text"].split(SEPARATOR)[0] for o in v.others)]
    votes = Counter(normalise_answer(a) for a in given)
    top, count = votes.most_common(1)[0]
    stubborn = "stubborn" in {t.strip().lower() for t in v.persona["innate"]}
    if (count > votes[normalise_answer(v.previous)]
            and coin(0.3 if stubborn else 0.7, seed, "revise", me, v.question, v.round)):
        answer = next(a for a in given if normalise_answer(a) == top)
        return {"answer": answer, "reasoning": f"Most of us answered {answer}; I go with it."}
    return {"answer": v.previous, "reasoning": "I keep my answer."}


def answer_judge(v: AnswerJudgeVars, seed: int) -> dict:
    return {"correct": normalise_answer(v.answer) == normalise_answer(v.reference)}


def group_turn(v: GroupTurnVars, seed: int) -> dict:
    if v.role == "moderator" and not v.heard:
        return {"text": f"Welcome, everyone. Let's each say what we think about {v.topic}."}
    if v.role == "moderator":
        return {"text": f"Thank you, {v.heard[-1]['speaker'].split()[0]}. Who is next?"}
    own = [m for m in v.memories if "said to the group:" not in m]
    said = own[0] if own else f"I have nothing to add about {v.topic} yet"
    said = said.rstrip(".") + "."
    if v.heard:
        return {"text": f"{v.heard[-1]['speaker'].split()[0]}, I hear you. {said}"}
    return {"text": said}
