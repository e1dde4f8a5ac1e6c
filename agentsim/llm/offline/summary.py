"""The summary description by an extractive rule (no judgement about the person).

summary: one statement per aspect, made of
- a sentence from the seed persona field the aspect names: the innate traits for "core", the
  occupation for "occupation", nothing for "feeling" (the seed has no feelings to quote);
- then "<first name> recalls: " and the text of one memory given (cognition passes them
  best retrieved first), cut at a word boundary to at most 150 characters: the best for
  "core", the second best for "occupation", the third for "feeling" (the first when there are
  fewer); a longer text ends at its last whole word. The three queries often retrieve the
  same few seed memories first; quoting the same one three times would lengthen every
  prompt's persona header without saying more.
No memories: "<first name> has little to go on yet." Nothing is invented: every word is the
persona's or a retrieved memory's, so the statement changes from day to day only as the
memories retrieved for it do.
"""

from __future__ import annotations

from agentsim.contracts import SummaryVars
from agentsim.llm.offline.people import first_name, my_name, persona
from agentsim.llm.offline.wording import bare, join_words, sentence

RANK = {"core": 0, "occupation": 1, "feeling": 2}  # which retrieved memory each aspect quotes
CUT = 150  # characters kept of each


def _cut(text: str, n: int = CUT) -> str:
    text = bare(text)
    if len(text) <= n:
        return text
    return text[:n].rsplit(" ", 1)[0].rstrip(" ,;:.")


def summary(v: SummaryVars, seed: int) -> dict:
    p = persona(v)
    first = first_name(my_name(v)) or "They"
    parts: list[str] = []
    if v.aspect == "core" and p.get("innate"):
        parts.append(f"{first} is {join_words([str(t) for t in p['innate']])}.")
    elif v.aspect == "occupation" and p.get("occupation"):
        parts.append(f"{first}'s occupation: {bare(str(p['occupation']))}.")
    texts = [str(m.get("text")) for m in v.memories if m.get("text")]
    if texts:
        quoted = texts[RANK[v.aspect]] if RANK[v.aspect] < len(texts) else texts[0]
        parts.append(f"{first} recalls: {sentence(_cut(quoted))}")
    elif not parts:
        parts.append(f"{first} has little to go on yet.")
    return {"statement": " ".join(parts)[:400]}
