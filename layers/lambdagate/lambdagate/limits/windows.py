"""Time windows: the minute of rpm/tpm counters and the budget window, in UTC, from an injectable clock.

- Rate limits count per fixed UTC minute (``minute = floor(now / 60)``): a window is reset the
  moment the next minute starts, so a client that waits ``Retry-After`` seconds is admitted again.
  (A fixed window lets at most twice the limit through across one minute boundary, as
  OpenAI-style per-minute limits do.)
- A budget window is the ``budget_duration`` of the key or team: ``Nm``, ``Nh`` or ``Nd``
  windows aligned to the Unix epoch (``1d`` is the UTC day, ``12h`` its halves), or ``monthly``
  (the calendar month, UTC). No duration: one window for ever.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime

_DURATION = re.compile(r"^([1-9][0-9]*)([mhd])$")
_UNIT = {"m": 60, "h": 3600, "d": 86400}
KEEP_BUDGET_WINDOWS = 90 * 86400
"""Seconds a budget window's record is kept after the window ended (for ``keys usage``), then TTL removes it."""


def minute_of(now: float) -> int:
    return int(now // 60)


def seconds_to_next_minute(now: float) -> float:
    return 60 - (now % 60)


@dataclass(frozen=True, slots=True)
class BudgetWindow:
    """One budget window: its id in the store, and its bounds (None for the lifetime window)."""

    id: str
    start: float | None
    end: float | None

    @property
    def expires(self) -> int | None:
        """When the store may forget the window (DynamoDB TTL, epoch seconds)."""
        return None if self.end is None else int(self.end) + KEEP_BUDGET_WINDOWS

    def describe(self) -> str:
        if self.end is None:
            return "lifetime"
        return f"resets {datetime.fromtimestamp(self.end, UTC).strftime('%Y-%m-%dT%H:%M:%SZ')}"


def duration_seconds(duration: str) -> int | None:
    """``30d`` -> 2592000; None for ``monthly`` (calendar months have no fixed length)."""
    match = _DURATION.fullmatch(duration)
    if match is None:
        if duration == "monthly":
            return None
        raise ValueError(f"invalid budget_duration {duration!r}: use Nm, Nh, Nd or monthly")
    return int(match[1]) * _UNIT[match[2]]


def budget_window(duration: str | None, now: float) -> BudgetWindow:
    if duration is None:
        return BudgetWindow("total", None, None)
    seconds = duration_seconds(duration)
    if seconds is None:
        moment = datetime.fromtimestamp(now, UTC)
        start = datetime(moment.year, moment.month, 1, tzinfo=UTC)
        end = datetime(moment.year + moment.month // 12, moment.month % 12 + 1, 1, tzinfo=UTC)
        return BudgetWindow(f"monthly#{moment.year:04d}-{moment.month:02d}", start.timestamp(), end.timestamp())
    begin = (int(now) // seconds) * seconds
    return BudgetWindow(f"{duration}#{begin}", float(begin), float(begin + seconds))


__all__ = ["BudgetWindow", "budget_window", "duration_seconds", "minute_of", "seconds_to_next_minute"]
