"""The clock port: every use of "now" goes through it so tests can move time."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Protocol


class Clock(Protocol):
    """Something that tells the current time as an aware UTC datetime."""

    def now(self) -> datetime:
        """Return the current instant (timezone-aware, UTC)."""
        ...


class SystemClock:
    """The wall clock."""

    def now(self) -> datetime:
        """Return the current instant from the operating system."""
        return datetime.now(UTC)


class ManualClock:
    """A clock that only moves when told to: for tests, the demo script and benchmarks."""

    def __init__(self, start: datetime) -> None:
        if start.tzinfo is None:
            raise ValueError("ManualClock needs an aware datetime")
        self._now = start.astimezone(UTC)

    def now(self) -> datetime:
        """Return the clock's current instant."""
        return self._now

    def set(self, instant: datetime) -> None:
        """Jump to an instant (it may not go backwards: stored timestamps assume that)."""
        instant = instant.astimezone(UTC)
        if instant < self._now:
            raise ValueError("time does not run backwards")
        self._now = instant

    def advance(self, delta: timedelta) -> None:
        """Move the clock forward by a duration."""
        self.set(self._now + delta)


class TravelClock:
    """The wall clock plus an offset that only grows: ``moodcheck sandbox``'s time travel.

    Time keeps running as it does for a real bot (retries and re-raises come due by
    themselves), and a jump forward moves every later reading with it.
    """

    def __init__(self, wall: Clock | None = None) -> None:
        self._wall = wall or SystemClock()
        self._offset = timedelta(0)

    def now(self) -> datetime:
        """Return the wall clock's instant moved by every jump so far."""
        return self._wall.now() + self._offset

    def set(self, instant: datetime) -> None:
        """Jump to an instant (never backwards: stored timestamps assume that)."""
        if instant.tzinfo is None:
            raise ValueError("TravelClock needs an aware datetime")
        now = self.now()
        if instant < now:
            raise ValueError("time does not run backwards")
        self._offset += instant - now

    def advance(self, delta: timedelta) -> None:
        """Move the clock forward by a duration."""
        self.set(self.now() + delta)

    @property
    def offset(self) -> timedelta:
        """How far every jump so far has moved the clock."""
        return self._offset
