"""Where the bundled prompts/ and worlds/ folders are, in a checkout or an installed wheel."""

from __future__ import annotations

from functools import cache
from pathlib import Path

_PKG = Path(__file__).resolve().parent


@cache
def data_dir(name: str) -> Path:
    """`prompts` or `worlds`: the repo's top-level folder in a checkout, else the wheel's copy."""
    checkout = _PKG.parent / name
    if checkout.is_dir():
        return checkout
    return _PKG / "_bundled" / name


def prompts_dir() -> Path:
    return data_dir("prompts")


def resolve_world(path: str | Path) -> Path:
    """A world folder given as a path, or as the name of a bundled world (e.g. `smallville`)."""
    p = Path(path)
    if p.exists():
        return p
    bundled = data_dir("worlds") / p.name
    if bundled.is_dir() and p.parts[:1] in ((), ("worlds",), (p.name,)):
        return bundled
    return p
