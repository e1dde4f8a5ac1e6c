"""The contracts of group conversations and of the protocols built on them (issue 16).

    group_turn     one participant's turn in a group conversation (a meeting, a class)
    debate_answer  a debater's answer to a question, after reading the others' (Du et al. 2023)
    answer_judge   an LLM judge: does an answer match the reference answer? (optional judge)

Their answer models sit here, beside their contracts, rather than in `outputs.py`: they belong
to the protocols, not to the Smallville loop."""

from __future__ import annotations

import re

from pydantic import Field

from agentsim.contracts import samples as s
from agentsim.contracts.answer import Out
from agentsim.contracts.contract import Contract, Vars
from agentsim.contracts.shapes import Line, Persona

# speaker, text: one thing said in the group, as a listener heard it
Heard = Line
# between a debater's answer and its reasoning, as the debate reports it to the others
SEPARATOR = " -- "


class GroupTurnVars(Vars):
    persona: Persona
    now: str
    topic: str  # what the group meets about
    participants: list[str]  # everyone present, by name
    role: str  # the speaker's part: "participant", "moderator", ...
    heard: list[Heard]  # what was said so far, oldest first
    memories: list[str]  # what the speaker recalls about the topic


class GroupTurn(Out):
    text: str = Field(min_length=1, max_length=600, description="what you say, one to three "
                      "sentences", examples=["I think we should start with the budget."])
    _words = ("text",)


class DebateAnswerVars(Vars):
    persona: Persona
    question: str
    round: int  # 0: answering alone; from 1: after reading the others
    previous: str | None  # the debater's own answer of the last round
    others: list[Heard]  # the other debaters' answers of the last round


class DebateAnswer(Out):
    answer: str = Field(min_length=1, max_length=80, description="the short final answer "
                        "only: a number, a word or a name", examples=["42"])
    reasoning: str = Field(min_length=1, max_length=600, description="one or two sentences "
                           "on why", examples=["Six times seven is forty-two."])


class AnswerJudgeVars(Vars):
    question: str
    reference: str  # the answer key's answer
    answer: str  # the answer judged


class Verdict(Out):
    correct: bool = Field(description="true if the answer means the same as the reference",
                          examples=[True])


GROUP_TURN: Contract[GroupTurnVars, GroupTurn] = Contract(
    "group_turn", GroupTurnVars, GroupTurn, budget=1400,
    trim={"heard": "last", "memories": "first"},
    example=lambda: GroupTurnVars(
        persona=s.PERSONA, now="Monday 10:00", topic="the Valentine's Day party",
        participants=["Isabella Rodriguez", "Tom Moreno", "Maria Lopez"], role="moderator",
        heard=[{"speaker": "Tom Moreno", "text": "Who is bringing the cake?"}],
        memories=["I am planning a Valentine's Day party at Hobbs Cafe"]))

DEBATE_ANSWER: Contract[DebateAnswerVars, DebateAnswer] = Contract(
    "debate_answer", DebateAnswerVars, DebateAnswer, budget=1400, trim={"others": "first"},
    example=lambda: DebateAnswerVars(
        persona=s.PERSONA, question="What is 17 * 3?", round=1, previous="41",
        others=[{"speaker": "Tom Moreno", "text": "51 (seventeen threes are fifty-one)"}]))

ANSWER_JUDGE: Contract[AnswerJudgeVars, Verdict] = Contract(
    "answer_judge", AnswerJudgeVars, Verdict, budget=600,
    example=lambda: AnswerJudgeVars(question="What is the capital of Australia?",
                                    reference="Canberra", answer="canberra, ACT"))


_ARTICLES = re.compile(r"^(the|a|an)\s+")
_NUMBER = re.compile(r"^-?\d+(?:\.\d+)?$")


def normalise_answer(text: str) -> str:
    """An answer as the default judge compares it: lower case, words and digits only, no
    leading article, a number without its thousands separators or trailing zeros ("1,000.0"
    -> "1000"). The same rule for the offline judge and for `agentsim.protocols.judge`."""
    t = text.strip().lower().replace(",", "")
    t = re.sub(r"[^\w\s.\-]", " ", t)
    t = " ".join(t.split()).strip(". ")
    t = _ARTICLES.sub("", t)
    if _NUMBER.match(t):
        n = float(t)
        t = str(int(n)) if n == int(n) else repr(n)
    return t
