"""A sweep's grid: the cognition settings a run can vary, their values checked by `Settings`
before any run, `--grid key=v1,v2` parsed, and a cell's values applied to a simulation."""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from agentsim.cognition.context import Settings
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
    """Every combination of the grid's values, in the grid's order; one empty cell for none.
    Each value is checked by `Settings` itself before any run (a one-line error naming it)."""
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
            _settings(Settings(), {k: x})
    return [dict(zip(keys, combo, strict=True)) for combo in itertools.product(*values)]


def _settings(base: Settings, params: Mapping[str, Any]) -> Settings:
    """`base` with a cell's values, validated by Settings; a bad one is a grid error."""
    changes = {SETTINGS[k]: v for k, v in params.items()}
    try:
        return base.replace(**changes)
    except UserError as e:
        field = (e.field or "").removeprefix("Settings.").split(".")[0]
        bad = next((k for k in params if SETTINGS[k] == field), next(iter(params)))
        raise UserError(f"bad value {params[bad]!r} for {bad}: {e.message}",
                        field="grid") from None


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
    """Set a cell's values on `sim`'s settings."""
    sim.settings = _settings(sim.settings, params)
