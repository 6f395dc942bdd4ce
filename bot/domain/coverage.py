"""Coverage hours and re-raise scheduling: pure arithmetic on instants, no I/O.

A cohort's care team watches the group on some weekdays between two local wall-clock times
(docs/clinical.md §3.2). Outside them an alert is *after hours*: the patient is told that nobody is
watching now. Unacknowledged alerts are raised again: IMMEDIATE ones after fixed delays (15 and
30 minutes by default), URGENT ones at the end of the business day.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from bot.domain.alerts import Tier
from bot.domain.schedule import wall_time_to_utc

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
"""Day names as the configuration spells them, in ``date.weekday()`` order."""


@dataclass(frozen=True, slots=True)
class Coverage:
    """When the care team watches the provider group.

    Attributes:
        days: Weekdays covered, as ``date.weekday()`` numbers (0 is Monday).
        start: Local start of the working day.
        end: Local end of the working day (after ``start``; the day does not wrap midnight).
        zone: The cohort's time zone.
    """

    days: frozenset[int]
    start: time
    end: time
    zone: ZoneInfo

    def __post_init__(self) -> None:
        if not self.days or not self.days <= set(range(7)):
            raise ValueError("days must be a non-empty set of weekday numbers 0-6")
        if self.start >= self.end:
            raise ValueError("start must be before end")

    def _bounds(self, day: date) -> tuple[datetime, datetime]:
        return (
            wall_time_to_utc(day, self.start, self.zone),
            wall_time_to_utc(day, self.end, self.zone),
        )

    def covers(self, instant: datetime) -> bool:
        """Tell whether someone is watching at an instant (start inclusive, end exclusive)."""
        _aware(instant)
        day = instant.astimezone(self.zone).date()
        if day.weekday() not in self.days:
            return False
        start, end = self._bounds(day)
        return start <= instant < end

    def end_of_business_day(self, instant: datetime) -> datetime:
        """Return the end of the business day an alert raised at ``instant`` belongs to.

        During covered hours, or before they start on a covered day: that day's end.
        Otherwise (after the end, or on a day off): the end of the next covered day.
        """
        _aware(instant)
        day = instant.astimezone(self.zone).date()
        for offset in range(8):
            candidate = day + timedelta(days=offset)
            if candidate.weekday() not in self.days:
                continue
            _, end = self._bounds(candidate)
            if instant < end:
                return end
        raise AssertionError("unreachable: a covered day recurs within a week")


def _aware(instant: datetime) -> None:
    if instant.utcoffset() is None:
        raise ValueError("instants must be timezone-aware")


def next_reraise(
    tier: Tier,
    raised_at: datetime,
    reraised: int,
    reraise_minutes: Sequence[int],
    coverage: Coverage | None,
) -> datetime | None:
    """Return when an unacknowledged alert is next raised again, or None for never.

    Args:
        tier: The alert's tier (the top tier of its group message).
        raised_at: When the alert was first raised.
        reraised: How many times it has been raised again so far.
        reraise_minutes: IMMEDIATE delays after ``raised_at``, rising (e.g. ``[15, 30]``).
        coverage: The cohort's coverage hours; without them URGENT alerts are not raised
            again (there is no business day to end).

    Returns:
        IMMEDIATE: ``raised_at`` plus the next delay, while delays remain. URGENT: the end of
        the business day, once. ROUTINE: None (they go to the digest).
    """
    _aware(raised_at)
    if reraised < 0:
        raise ValueError("reraised must not be negative")
    if tier is Tier.IMMEDIATE:
        if reraised >= len(reraise_minutes):
            return None
        return raised_at + timedelta(minutes=reraise_minutes[reraised])
    if tier is Tier.URGENT and coverage is not None and reraised == 0:
        return coverage.end_of_business_day(raised_at)
    return None


def mentions_on_call(tier: Tier, step: int, reraise_minutes: Sequence[int]) -> bool:
    """Tell whether re-raise ``step`` (1-based) pages the on-call: the last IMMEDIATE step
    when there are two or more (docs/clinical.md §3.2: "page the backup/on-call at 30 min")."""
    return tier is Tier.IMMEDIATE and len(reraise_minutes) >= 2 and step >= len(reraise_minutes)
