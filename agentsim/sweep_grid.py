"""A sweep's grid: the cognition settings a run can vary, their values checked before any run,
`--grid key=v1,v2` parsed, and a cell's values applied to a simulation."""

from __future__ import annotations

import dataclasses
import itertools
import math
from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from agentsim.errors import UserError

if TYPE_CHECKING:
    from agentsim.engine import Engine

# Grid keys: the cognition settings a run can vary (agentsim.cognition.context.Settings).
SETTINGS = {
    "weights": "weights",  # (recency, importance, relevance)
    "retrieval_weights": "weights",
    "reflection_threshold": "reflection_threshold",
    "decay": "decay",
    "max_turns": "max_turns",
    "talk_cooldown_minutes": "talk_cooldown_minutes",
    "attention": "attention",
    "refine_rounds": "refine_rounds",
    "refine_dialogue": "refine_dialogue",
    # the ablation switches (0 off, 1 on), as `agentsim evaluate` sets them
    "observation": "observation",
    "reflection": "reflection",
    "planning": "planning",
}


def cells(grid: Mapping[str, Iterable[Any]] | None) -> list[dict[str, Any]]:
    """Every combination of the grid's values, in the grid's order; one empty cell for none."""
    grid = dict(grid or {})
    for key in grid:
        if key not in SETTINGS:
            raise UserError(f"unknown sweep parameter {key!r} (known: {', '.join(SETTINGS)})",
                            field="grid")
    keys = list(grid)
    values = [list(grid[k]) for k in keys]
    for k, v in zip(keys, values, strict=True):
        if not v:
            raise UserError(f"no values for {k!r}", field="grid")
        for x in v:
            _check(k, x)
    return [dict(zip(keys, combo, strict=True)) for combo in itertools.product(*values)]


_WHOLE = {"max_turns", "talk_cooldown_minutes", "attention", "reflection_threshold",
          "refine_rounds", "refine_dialogue"}
_ZERO_OK = {"talk_cooldown_minutes", "refine_rounds", "refine_dialogue"}  # 0: off


def _check(key: str, value: Any) -> None:
    """A grid value a run can use, or a one-line error naming the key (before any run)."""
    name = SETTINGS[key]
    if name == "weights":
        ok = (isinstance(value, Sequence) and not isinstance(value, str) and len(value) == 3
              and all(_number(x) and x >= 0 for x in value))
        want = "3 numbers >= 0 (recency, importance, relevance), e.g. 1:1:3"
    elif name == "decay":
        ok, want = _number(value) and 0 < value <= 1, "a number in (0, 1]"
    else:
        low = 0 if name in _ZERO_OK else 1
        ok = _number(value) and float(value).is_integer() and value >= low
        want = f"a whole number >= {low}"
    if not ok:
        raise UserError(f"bad value {value!r} for {key}: {want}", field="grid")


def _number(x: Any) -> bool:
    return isinstance(x, int | float) and not isinstance(x, bool) and math.isfinite(x)


def parse_grid(items: Sequence[str]) -> dict[str, list[Any]]:
    """`--grid key=v1,v2` items -> a grid; `1:1:3` is a tuple (for weights)."""
    grid: dict[str, list[Any]] = {}
    for item in items:
        key, sep, raw = item.partition("=")
        key = key.strip()
        if sep and key not in SETTINGS:
            cells({key: [0]})  # the one-line error that lists the known keys
        if not sep or not key or not raw.strip():
            raise UserError(f"bad grid item {item!r}: use KEY=V1,V2 (e.g. "
                            "weights=1:1:1,1:1:3)", field="--grid")
        grid[key] = [_value(v.strip(), item) for v in raw.split(",") if v.strip()]
    cells(grid)  # unknown keys fail here, with the list of known ones
    return grid


def _value(text: str, item: str) -> Any:
    try:
        if ":" in text:
            return tuple(float(x) for x in text.split(":"))
        number = float(text)
        return int(number) if number.is_integer() and "." not in text else number
    except ValueError:
        raise UserError(f"bad value {text!r} in {item!r}: numbers, or a:b:c for weights",
                        field="--grid") from None


def apply(sim: Engine, params: Mapping[str, Any]) -> None:
    changes: dict[str, Any] = {}
    for key, value in params.items():
        name = SETTINGS[key]
        if name == "weights":
            value = tuple(float(x) for x in value)
            if len(value) != 3:
                raise UserError(f"{key} needs 3 numbers (recency, importance, relevance)",
                                field=key)
        elif name in _WHOLE:
            value = int(value)
        changes[name] = value
    sim.settings = dataclasses.replace(sim.settings, **changes)
