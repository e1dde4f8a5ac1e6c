"""Splitting a Markdown or text document into chunks that can be cited.

A chunk is one or more paragraphs under the same heading, about 120-200 words, never across a
heading (so its title says what it is about). A section longer than that is split between
paragraphs, or between sentences when one paragraph alone is too long; each later piece of a
split section starts with the last sentence of the piece before (a small overlap, so a fact
that straddles the cut is still whole somewhere). Ids are `doc#N` (N from 1, in document
order): the same text always gives the same ids.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

MAX_WORDS = 200

_HEADING = re.compile(r"^(#{1,6})\s+(.*?)\s*#*\s*$")
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[\"'(A-Z0-9£$*])")


@dataclass(frozen=True)
class Chunk:
    id: str  # "knowledge/hobbs_cafe_menu.md#2"
    document: str  # "knowledge/hobbs_cafe_menu.md"
    n: int  # 1, 2, ... in document order
    title: str  # the heading path: "Hobbs Cafe Menu › Pastries"
    text: str
    lines: tuple[int, int]  # first and last line in the file, 1-based, inclusive

    def embed_text(self) -> str:
        """What gets embedded: the heading path gives the paragraphs their context."""
        return f"{self.title}\n{self.text}"


@dataclass(frozen=True)
class _Block:
    path: tuple[str, ...]
    text: str
    start: int
    end: int


def words(text: str) -> int:
    return len(text.split())


def sentences(text: str) -> list[str]:
    return [s.strip() for s in _SENTENCE_END.split(" ".join(text.split())) if s.strip()]


def document_title(document: str, text: str) -> str:
    """The first level-1 heading of a Markdown file, else the file name in words."""
    for line in text.splitlines() if not document.endswith(".txt") else []:
        m = _HEADING.match(line)
        if m and len(m[1]) == 1:
            return _clean(m[2])
    stem = document.rsplit("/", 1)[-1].rsplit(".", 1)[0]
    return stem.replace("_", " ").replace("-", " ").strip().capitalize()


def _clean(heading: str) -> str:
    return re.sub(r"[*_`]", "", heading).strip()


def _blocks(text: str, markdown: bool) -> list[_Block]:
    """Paragraphs (a run of non-blank lines; a list counts as one) with their heading path."""
    path: list[tuple[int, str]] = []  # (level, heading)
    out: list[_Block] = []
    para: list[str] = []
    start = 0

    def close(end: int) -> None:
        if para:
            out.append(_Block(tuple(h for _, h in path), "\n".join(para).strip(), start, end))
            para.clear()

    lines = text.splitlines()
    for i, line in enumerate(lines, start=1):
        m = _HEADING.match(line) if markdown else None
        if m:
            close(i - 1)
            level = len(m[1])
            path = [(lv, h) for lv, h in path if lv < level] + [(level, _clean(m[2]))]
        elif not line.strip():
            close(i - 1)
        else:
            if not para:
                start = i
            para.append(line.rstrip())
    close(len(lines))
    return out


def _pieces(block: _Block) -> list[_Block]:
    """A block of at most MAX_WORDS, or its sentences grouped into pieces that are."""
    if words(block.text) <= MAX_WORDS:
        return [block]
    out, cur = [], []
    for s in sentences(block.text):
        if cur and words(" ".join([*cur, s])) > MAX_WORDS:
            out.append(_Block(block.path, " ".join(cur), block.start, block.end))
            cur = []
        cur.append(s)
    if cur:
        out.append(_Block(block.path, " ".join(cur), block.start, block.end))
    return out


def chunk_text(document: str, text: str) -> list[Chunk]:
    """The chunks of one document; `document` is its id (the path under the world folder)."""
    markdown = not document.endswith(".txt")
    title = document_title(document, text)
    groups: list[list[_Block]] = []
    for block in _blocks(text, markdown):
        for piece in _pieces(block):
            last = groups[-1] if groups else None
            fits = last is not None and last[0].path == piece.path and \
                words(" ".join(b.text for b in [*last, piece])) <= MAX_WORDS
            if fits:
                last.append(piece)
            else:
                groups.append([piece])
    chunks: list[Chunk] = []
    for i, group in enumerate(groups):
        body = "\n\n".join(b.text for b in group)
        prev = groups[i - 1] if i else None
        if prev is not None and prev[0].path == group[0].path:  # the same section, cut: overlap
            tail = sentences(prev[-1].text)[-1:]
            if tail and words(tail[0]) < 60:
                body = f"{tail[0]} {body}"
        path = [h for h in group[0].path if h != title]
        chunks.append(Chunk(
            id=f"{document}#{i + 1}",
            document=document,
            n=i + 1,
            title=" › ".join([title, *path]),
            text=body,
            lines=(group[0].start, group[-1].end),
        ))
    return chunks


# -- picking the lines that matter -------------------------------------------------------------
_STOP_WORDS = (
    "a an the and or but of to in on at by for with from as is are was were be been it "
    "its this that these those i you he she we they my your his her our their me him us "
    "them do does did what which who whom when where why how much many there here not no "
    "so if then than about into over any some all can could would should will shall may "
    "might have has had am just also up out"
)
_STOP = frozenset(_STOP_WORDS.split())
_TOKEN = re.compile(r"[a-z0-9]+(?:'[a-z]+)?")


def content_words(text: str) -> set[str]:
    """Lower-case words that carry meaning (no stop words), with a plural 's' dropped."""
    out = set()
    for w in _TOKEN.findall(text.lower()):
        w = w.removesuffix("'s")
        if w in _STOP or len(w) < 2:
            continue
        out.add(w[:-1] if len(w) > 3 and w.endswith("s") and not w.endswith("ss") else w)
    return out


def units(text: str) -> list[str]:
    """A chunk's sentences, with each list item as a unit of its own."""
    out: list[str] = []
    para: list[str] = []
    for line in [*text.splitlines(), ""]:
        item = re.match(r"^\s*(?:[-*+]|\d+[.)])\s+(.*)$", line)
        if item or not line.strip():
            out += sentences(" ".join(para))
            para = []
            if item:
                out.append(item[1].strip())
        else:
            para.append(line.strip())
    return [u for u in out if u]


def best_units(text: str, query: str, n: int = 2) -> list[str]:
    """Up to `n` units of `text` sharing the most words with `query`, in document order; the
    first units when none shares any."""
    us = units(text)
    want = content_words(query)
    scored = [(len(want & content_words(u)), -i) for i, u in enumerate(us)]
    picked = sorted(range(len(us)), key=lambda i: scored[i], reverse=True)[:n]
    if not picked or scored[picked[0]][0] == 0:
        return us[:n]
    return [us[i] for i in sorted(i for i in picked if scored[i][0] > 0)]
