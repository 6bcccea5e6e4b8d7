"""ISO weeks in the committee's time zone: the digest's unit of time."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

_WEEK_RE = re.compile(r"^\s*(\d{4})-?W(\d{1,2})\s*$", re.IGNORECASE)
# The years a digest can be asked for: far enough from date.min/max that a week's bounds,
# the week before it and the time zone shift never overflow.
FIRST_YEAR, LAST_YEAR = 2000, 2100


@dataclass(frozen=True, order=True)
class Week:
    """One ISO week (Monday to Sunday), e.g. ``Week(2026, 47)`` is ``2026-W47``."""

    year: int
    number: int

    @classmethod
    def parse(cls, text: str) -> Week:
        """Read ``2026-W47`` (or ``2026W47``); raise ValueError for anything else."""
        match = _WEEK_RE.match(text or "")
        if match is None:
            raise ValueError(f"not an ISO week: {text!r} (use e.g. 2026-W47)")
        year, number = int(match[1]), int(match[2])
        if not FIRST_YEAR <= year <= LAST_YEAR:
            raise ValueError(f"{text.strip()}: only weeks from {FIRST_YEAR} to {LAST_YEAR}")
        try:
            date.fromisocalendar(year, number, 1)
        except ValueError as exc:
            raise ValueError(f"{year} has no week {number}") from exc
        return cls(year, number)

    @classmethod
    def of(cls, moment: datetime, tz: ZoneInfo) -> Week:
        """The week ``moment`` falls in, in local time."""
        iso = moment.astimezone(tz).isocalendar()
        return cls(iso.year, iso.week)

    @property
    def label(self) -> str:
        """``2026-W47``."""
        return f"{self.year}-W{self.number:02d}"

    @property
    def monday(self) -> date:
        """The week's first day."""
        return date.fromisocalendar(self.year, self.number, 1)

    def days(self) -> list[date]:
        """Monday to Sunday."""
        return [self.monday + timedelta(days=i) for i in range(7)]

    def bounds(self, tz: ZoneInfo) -> tuple[datetime, datetime]:
        """``[start, end)`` in UTC: local Monday 00:00 to the next Monday 00:00."""
        start = datetime.combine(self.monday, time(0), tz)
        end = datetime.combine(self.monday + timedelta(days=7), time(0), tz)
        return start.astimezone(UTC), end.astimezone(UTC)

    def previous(self) -> Week:
        """The week before."""
        iso = (self.monday - timedelta(days=7)).isocalendar()
        return Week(iso.year, iso.week)

    def next(self) -> Week:
        """The week after."""
        iso = (self.monday + timedelta(days=7)).isocalendar()
        return Week(iso.year, iso.week)
