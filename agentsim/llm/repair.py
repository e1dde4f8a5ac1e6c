"""Repairing what small models do to JSON: code fences, chatter around the object, trailing
commas, Python-style quotes and literals; and lone surrogates (`"\\udc00"`, which no UTF-8
file, sqlite or pydantic can hold) become U+FFFD."""

from __future__ import annotations

import ast
import json
import re
from typing import Any

_FENCE = re.compile(r"```(?:json|JSON)?\s*(.*?)```", re.DOTALL)
_TRAILING_COMMA = re.compile(r",\s*([}\]])")
_SURROGATE = re.compile("[\ud800-\udfff]")


def scrub(value: Any) -> Any:
    """`value` with every lone surrogate in its strings (keys too) replaced by U+FFFD."""
    if isinstance(value, str):
        return _SURROGATE.sub("\ufffd", value) if _SURROGATE.search(value) else value
    if isinstance(value, dict):
        return {scrub(k): scrub(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(scrub(v) for v in value)
    return value


def _balanced(text: str, start: int) -> str | None:
    """The {...} object starting at `start`, respecting strings and escapes."""
    depth, in_str, esc, quote = 0, False, False, ""
    for i in range(start, len(text)):
        ch = text[i]
        if in_str:
            if esc:
                esc = False
            elif ch == "\\":
                esc = True
            elif ch == quote:
                in_str = False
        elif ch in "\"'":
            in_str, quote = True, ch
        elif ch == "{":
            depth += 1
        elif ch == "}":
            depth -= 1
            if depth == 0:
                return text[start:i + 1]
    return None


def _loads(candidate: str) -> Any:
    for attempt in (candidate, _TRAILING_COMMA.sub(r"\1", candidate)):
        try:
            return json.loads(attempt)
        except json.JSONDecodeError:
            pass
    # {'a': True, 'b': None} -- Python literals, as some models write them.
    try:
        value = ast.literal_eval(_TRAILING_COMMA.sub(r"\1", candidate))
    except (ValueError, SyntaxError, MemoryError, RecursionError):
        value = None
    if isinstance(value, dict):
        return value
    raise ValueError("no JSON object could be read from the answer")


def extract_json(text: str) -> Any:
    """The first JSON object in a model's answer, repaired where that is safe.
    Raises ValueError when there is none."""
    candidates = [m.group(1) for m in _FENCE.finditer(text)] + [text]
    for chunk in candidates:
        chunk = chunk.strip()
        start = chunk.find("{")
        while start != -1:
            obj = _balanced(chunk, start)
            if obj is not None:
                try:
                    return scrub(_loads(obj))
                except ValueError:
                    pass
            start = chunk.find("{", start + 1)
    raise ValueError("no JSON object could be read from the answer")
