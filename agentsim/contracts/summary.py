"""Contract of the agent's summary description (Park et al. 2023, Sec. 4.3 and Appendix A).

Once a sim day, for each of three aspects of the agent (its core characteristics, its current
daily occupation, its feeling about its recent progress in life), cognition retrieves the
memories relevant to the aspect's query and asks this template for a short statement of what
they say. The statements together are the summary description every prompt's persona header
shows (`prompts/_persona.j2`). The answer model lives here, not in `outputs.py`, because it
belongs to this one template only.
"""

from __future__ import annotations

import functools
from typing import Literal

from pydantic import Field, create_model, field_validator

from agentsim.contracts import samples as s
from agentsim.contracts.answer import Out
from agentsim.contracts.contract import Contract, Vars
from agentsim.contracts.shapes import Memory, Persona

Aspect = Literal["core", "occupation", "feeling"]


class SummaryStatement(Out):
    """One or two sentences about the agent, in the third person, from the memories given."""

    statement: str = Field(min_length=3, max_length=400, examples=["They are ..."])
    _words = ("statement",)

    @field_validator("statement")
    @classmethod
    def _finished(cls, v: str) -> str:
        if v.rstrip().endswith(("...", "\u2026")):
            raise ValueError(f"statement: {v.strip()[:80]!r} copies the answer's description "
                             "(its example is only the start of one); finish the sentence")
        return v


@functools.cache
def summary_statement(name: str) -> type[SummaryStatement]:
    """SummaryStatement whose example is the start of a statement about `name` ("Ann Lee is
    ..."): small models copy a complete example sentence word for word (and a copy of a
    seven-word example is refused, so the call ends with no answer); given only the start,
    they finish it, and an unfinished copy is refused as unfinished."""
    return create_model(
        "SummaryStatement", __base__=SummaryStatement, __doc__=SummaryStatement.__doc__,
        statement=(str, Field(min_length=3, max_length=400, examples=[f"{name} is ..."])))


class SummaryVars(Vars):
    persona: Persona  # the seed description only: the summary is rebuilt, never fed back
    aspect: Aspect
    question: str  # the retrieval query, e.g. "Isabella Rodriguez's core characteristics"
    memories: list[Memory]  # retrieved for `question`, best first


SUMMARY: Contract[SummaryVars, SummaryStatement] = Contract(
    "summary", SummaryVars, SummaryStatement, budget=1400,
    shown="none",  # with the example SmolLM2 copied it ("Isabella Rodriguez is ...")
    trim={"memories": "first"},
    sized=lambda v: summary_statement(str(v.persona.get("name") or "They")),
    example=lambda: SummaryVars(persona=s.PERSONA, aspect="core",
                                question="Isabella Rodriguez's core characteristics",
                                memories=s.MEMORIES))
