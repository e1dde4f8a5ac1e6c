"""The base of every answer model (`Out`): what all answers share, whatever the template.

Small models copy what the prompt shows them (a field's description, the placeholder of an
example) and overrun length limits; `Out` rejects the first, so the client re-asks, and cuts the
second, since a re-ask costs more than a cut.
"""

from __future__ import annotations

import functools
import re
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict, model_validator

_NORM = re.compile(r"[\W_]+")
# What a model writes when it copies a template rather than answering: "...", "<activity>",
# "string", "TODO", an id where words belong.
_PLACEHOLDER = re.compile(r"^(<[^>]*>|\[[^\]]*\]|string|str|text|todo|tbd|xxx|n/?a|none|null|"
                          r"undefined|activity|example|your answer)$", re.IGNORECASE)
_IDENTIFIER = re.compile(r"^[a-z0-9]+(_[a-z0-9]+)+$")
_LETTERS = re.compile(r"[^\W\d_]{2,}")


def norm_text(text: str) -> str:
    """Lower case, words only: how two texts are compared for copying."""
    return _NORM.sub(" ", text.lower()).strip()


class Out(BaseModel):
    """Every answer model. Its validator rejects text copied from the model's own schema (a
    field's name, title or description, or an example of seven words or more): small models
    copy what the prompt shows them, and such an answer is re-asked, not used. The text in
    the fields named in `_words` must be words: not a placeholder, not an id (whether it may be
    blank is the field's `min_length`)."""

    model_config = ConfigDict(extra="ignore")
    _words: ClassVar[tuple[str, ...]] = ()

    @model_validator(mode="before")
    @classmethod
    def _clip(cls, data: Any) -> Any:
        """Text longer than its field's `max_length` is cut, not rejected: the limit is there
        for servers that write the schema as a grammar, and a re-ask costs more than a cut."""
        if not isinstance(data, dict):
            return data
        out = dict(data)
        for name, limit in _text_limits(cls).items():
            v = out.get(name)
            if isinstance(v, str) and len(v) > limit:
                out[name] = v[:limit].rstrip()
        return out

    @model_validator(mode="after")
    def _not_copied(self) -> Any:
        banned = _schema_text(type(self))
        for name in type(self).model_fields:
            value = getattr(self, name)
            for v in value if isinstance(value, list) else [value]:
                if isinstance(v, str) and v.strip() and norm_text(v) in banned:
                    raise ValueError(f"{name}: {v.strip()[:80]!r} copies the answer's "
                                     f"description; give a real answer")
        for name in self._words:
            value = getattr(self, name)
            for v in value if isinstance(value, list) else [value]:
                if isinstance(v, str):
                    _check_words(name, v)
        return self


def says_words(v: str) -> bool:
    """Whether `v` says something in words (what `_words` fields must): not blank, not a
    placeholder, not an id. For an optional text an answer may leave out or fill with junk."""
    try:
        _check_words("text", v)
    except ValueError:
        return False
    return bool(v.strip())


def _check_words(name: str, v: str) -> None:
    text = v.strip().strip(".").strip()
    if not v.strip():
        return
    if not _LETTERS.search(text):
        raise ValueError(f"{name} must say something in words, not {v!r}")
    if _PLACEHOLDER.match(text) or text.startswith("<") or _IDENTIFIER.match(text):
        raise ValueError(f"{name} must say something in words, not the placeholder {v!r}")


@functools.cache
def _text_limits(model: type[BaseModel]) -> dict[str, int]:
    """Field name -> max_length, for the text fields that have one."""
    out = {}
    for name, f in model.model_fields.items():
        limits = [m.max_length for m in f.metadata
                  if isinstance(getattr(m, "max_length", None), int)]
        if limits and f.annotation in (str, str | None):
            out[name] = min(limits)
    return out


@functools.cache
def _schema_text(model: type[BaseModel]) -> frozenset[str]:
    """The normalised texts of `model`'s schema that no answer should repeat: field names and
    titles, descriptions, the model's docstring, and examples of seven words or more."""
    out: set[str] = set()
    if model.__doc__:
        out.add(norm_text(model.__doc__))
    for name, f in model.model_fields.items():
        out |= {norm_text(name), norm_text(f.title or name)}
        if f.description:
            out.add(norm_text(f.description))
        for ex in f.examples or []:
            if isinstance(ex, str) and len(ex.split()) >= 7:
                out.add(norm_text(ex))
    out.discard("")
    return frozenset(out)
