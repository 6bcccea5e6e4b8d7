"""The application's one clock: real UTC time, which tests can move."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta


class Clock:
    """Real time plus an offset; production keeps the offset at zero.

    Anything that decides "is it due yet?" asks this clock rather than the system,
    so tests can jump across quiet hours or SLA deadlines without sleeping.
    """

    def __init__(self) -> None:
        """Start at the real time."""
        self._offset = timedelta(0)

    def now(self) -> datetime:
        """Return the current time as an aware UTC datetime."""
        return datetime.now(UTC) + self._offset

    def advance(self, **delta: float) -> datetime:
        """Move the clock forward by ``timedelta(**delta)``; return the new time."""
        self._offset += timedelta(**delta)
        return self.now()

    def set(self, moment: datetime) -> None:
        """Make ``now()`` return ``moment`` (aware) from here on, time flowing as usual."""
        if moment.tzinfo is None:
            raise ValueError("Clock.set needs an aware datetime")
        self._offset = moment - datetime.now(UTC)
