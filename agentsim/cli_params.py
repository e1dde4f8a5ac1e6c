"""The CLI's number parameters: a bad number is a one-line usage error naming the option."""

from __future__ import annotations

import math
from typing import Any

import click


class Number(click.ParamType):
    """A finite int or float no less than `low` (above it if `above`): nan, inf and values out
    of range are usage errors naming the option (one line, exit 2)."""

    def __init__(self, kind: type, low: float, *, above: bool = False):
        self.kind, self.low, self.above = kind, low, above
        self.name = "integer" if kind is int else "number"

    def convert(self, value: Any, param: Any, ctx: Any) -> Any:
        if isinstance(value, self.kind) and not isinstance(value, bool):
            x = value
        else:
            try:
                x = self.kind(str(value).strip())
            except ValueError:
                self.fail(f"{value!r} is not a{'n integer' if self.kind is int else ' number'}",
                          param, ctx)
        if self.kind is float and not math.isfinite(x):
            self.fail(f"{value} is not a finite number", param, ctx)
        if x < self.low or (self.above and x == self.low):
            low = int(self.low) if float(self.low).is_integer() else self.low
            self.fail(f"{value} is not {'>' if self.above else '>='} {low}", param, ctx)
        return x

    def __repr__(self) -> str:
        return f"Number({self.kind.__name__}, {'>' if self.above else '>='}{self.low})"


POSITIVE = Number(float, 0, above=True)  # sim hours
COUNT = Number(int, 1)  # ticks, k, workers, checkpoint interval, requests in flight
NATURAL = Number(int, 0)  # seeds, budgets
DOLLARS = Number(float, 0)
