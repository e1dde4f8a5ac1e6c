"""Who the offline mind speaks as and of: the persona in a template's variables, names and
whether two names are the same person, and whether an activity is sleep.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any, Protocol


class HasPersona(Protocol):
    """The variables of any template that shows the persona (most of them)."""

    @property
    def persona(self) -> Mapping[str, Any]: ...


def persona(v: HasPersona) -> Mapping[str, Any]:
    return v.persona or {}


def my_name(v: HasPersona) -> str:
    return str(persona(v).get("name") or "")


def first_name(name: str) -> str:
    return name.split()[0] if name and name.split() else name


def same_person(a: Any, b: Any) -> bool:
    return bool(a) and bool(b) and str(a).strip().casefold() == str(b).strip().casefold()


_SLEEP = re.compile(r"\b(sleep\w*|asleep|nap|napping)\b", re.IGNORECASE)


def asleep(activity: str | None) -> bool:
    return bool(activity) and bool(_SLEEP.search(activity or ""))
