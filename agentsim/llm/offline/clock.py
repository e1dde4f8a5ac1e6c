"""Clock arithmetic of the offline mind: plan times are 'HH:MM' strings within one day."""

from __future__ import annotations

DAY_MINUTES = 24 * 60


def to_min(hhmm: str | None, default: int = 0) -> int:
    """'07:30' -> 450. Anything unreadable gives `default`."""
    try:
        h, m = str(hhmm).strip().split(":")[:2]
        return int(h) * 60 + int(m)
    except (ValueError, AttributeError):
        return default


def to_hhmm(minutes: int) -> str:
    minutes = max(0, min(DAY_MINUTES - 1, int(minutes)))
    return f"{minutes // 60:02d}:{minutes % 60:02d}"
