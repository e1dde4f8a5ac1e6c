"""Finding the line of a document passage that answers a question, by the words they share.

The interview and conversation rules use this to quote a passage and cite its id. It works on
the plain dicts of the prompt variables (`{"id", "title", "text"}`), in the order given (best
retrieved first), so the same variables always give the same quote.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

_STOP_WORDS = (
    "a an the and or but of to in on at by for with from as is are was were be been it "
    "its this that these those i you he she we they my your his her our their me him us "
    "them do does did what which who whom when where why how much many there here not no "
    "so if then than about into over any some all can could would should will shall may "
    "might have has had am just also up out tell know say said hear heard think like get "
    "got go going really please yes ok okay oh hi hey"
)
_STOP = frozenset(_STOP_WORDS.split())
_TOKEN = re.compile(r"[a-z0-9]+(?:'[a-z]+)?")
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[\"'(A-Z0-9$*])")
MIN_SHARED = 2  # words a line must share with the question to count as answering it


def words(text: str) -> set[str]:
    """Content words, lower case, possessives and plurals folded ('parties' -> 'party')."""
    out = set()
    for w in _TOKEN.findall(str(text).lower()):
        w = w.removesuffix("'s")
        if w in _STOP or len(w) < 2:
            continue
        if len(w) > 4 and w.endswith("ies"):
            w = w[:-3] + "y"
        elif len(w) > 3 and w.endswith("s") and not w.endswith("ss"):
            w = w[:-1]
        out.add(w)
    return out


def lines(text: str) -> list[str]:
    """A passage's sentences, each list item a line of its own."""
    out: list[str] = []
    para: list[str] = []

    def flush() -> None:
        joined = " ".join(para).strip()
        out.extend(s.strip() for s in _SENTENCE_END.split(joined) if s.strip())
        para.clear()

    for raw in [*str(text).splitlines(), ""]:
        item = re.match(r"^\s*(?:[-*+]|\d+[.)])\s+(.*)$", raw)
        if item or not raw.strip():
            flush()
            if item:
                out.append(item[1].strip())
        else:
            para.append(raw.strip())
    return out


def best_line(question: str, passages: Sequence[Mapping[str, Any]],
              min_shared: int = MIN_SHARED) -> tuple[Mapping[str, Any], str, int] | None:
    """(passage, line, words shared) for the line that shares the most content words with the
    question, counting the words of the passage's heading too (ties: the line's own words, then
    the better-retrieved passage, then the earlier line). None when no line shares a word of its
    own and `min_shared` with its heading."""
    want = words(question)
    if not want:
        return None
    best: tuple[int, int, int, int] | None = None
    found = None
    for pi, p in enumerate(passages):
        heading = want & words(p.get("title", ""))
        for li, line in enumerate(lines(p.get("text", ""))):
            own = want & words(line)
            if not own:
                continue
            key = (len(own | heading), len(own), -pi, -li)
            if best is None or key > best:
                best, found = key, (p, line, len(own | heading))
    if found is None or found[2] < min_shared:
        return None
    return found


def short_title(title: str) -> str:
    """'Hobbs Cafe Menu › Pastries' -> 'the Hobbs Cafe Menu'; 'The Smallville Gazette' -> 'the
    Smallville Gazette' (for use inside a sentence); a title starting 'A' keeps it."""
    t = str(title).split(" › ")[0].strip()
    if re.match(r"^the\s", t, re.IGNORECASE):
        return "the" + t[3:]
    return t if re.match(r"^an?\s", t, re.IGNORECASE) else f"the {t}"


def clip(line: str, limit: int = 40) -> str:
    ws = line.split()
    return line if len(ws) <= limit else " ".join(ws[:limit]) + "..."
