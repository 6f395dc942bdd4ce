"""When a cohort's weekly digest goes out and which days it covers: pure, no I/O.

The digest covers a :class:`Period` of 7 local days ending the day before it is sent; the
scan queues it once per ISO week (:class:`DigestSlot`, ``digest:<cohort>:<ISO week>``), at the
cohort's weekday and time, catching up within the week; the month's first digest carries the
outcomes report (:func:`outcomes_included`). What the digest's figures mean is
:mod:`bot.domain.digest`'s docstring.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from bot.domain.coverage import WEEKDAYS
from bot.domain.schedule import start_of_day, wall_time_to_utc

PERIOD_DAYS = 7


@dataclass(frozen=True, slots=True)
class Period:
    """Seven local days (``start`` to ``end`` inclusive) and the instants they span."""

    start: date
    end: date
    zone: ZoneInfo

    @classmethod
    def ending(cls, last_day: date, zone: ZoneInfo) -> Period:
        """Return the 7 days that end on ``last_day``."""
        return cls(last_day - timedelta(days=PERIOD_DAYS - 1), last_day, zone)

    @property
    def days(self) -> tuple[date, ...]:
        """Return the period's dates, oldest first."""
        return tuple(self.start + timedelta(days=n) for n in range(PERIOD_DAYS))

    @property
    def previous(self) -> Period:
        """Return the 7 days before this period."""
        return Period.ending(self.start - timedelta(days=1), self.zone)

    @property
    def start_at(self) -> datetime:
        """Return the UTC instant the period begins."""
        return start_of_day(self.start, self.zone)

    @property
    def end_at(self) -> datetime:
        """Return the UTC instant the period ends (exclusive)."""
        return start_of_day(self.end + timedelta(days=1), self.zone)

    def holds(self, instant: datetime | None) -> bool:
        """Tell whether an instant falls inside the period."""
        return instant is not None and self.start_at <= instant < self.end_at


@dataclass(frozen=True, slots=True)
class DigestSlot:
    """One cohort's digest of one ISO week: when it is due and what it covers."""

    iso_year: int
    iso_week: int
    scheduled_at: datetime
    """The UTC instant of the cohort's digest weekday and time in that week."""
    week_ends_at: datetime
    """The UTC instant the ISO week ends (Monday 00:00 local): no catching up after it."""
    period: Period

    @property
    def week(self) -> str:
        """Return the ISO week as ``2026-W03``."""
        return f"{self.iso_year}-W{self.iso_week:02d}"

    def dedup_key(self, cohort: str) -> str:
        """Return the outbox dedup key that makes the digest go out once a week."""
        return f"digest:{cohort}:{self.week}"


def digest_slot(now: datetime, zone: ZoneInfo, weekday: str, at: time) -> DigestSlot:
    """Return the digest slot of the local ISO week that ``now`` falls in.

    The digest covers the 7 days that end the day before its scheduled date.
    """
    today = now.astimezone(zone).date()
    monday = today - timedelta(days=today.weekday())
    scheduled_day = monday + timedelta(days=WEEKDAYS.index(weekday))
    iso = monday.isocalendar()
    return DigestSlot(
        iso_year=iso.year,
        iso_week=iso.week,
        scheduled_at=wall_time_to_utc(scheduled_day, at, zone),
        week_ends_at=start_of_day(monday + timedelta(days=7), zone),
        period=Period.ending(scheduled_day - timedelta(days=1), zone),
    )


def digest_due(slot: DigestSlot, now: datetime) -> bool:
    """Tell whether a week's digest should go out now: its time has come and its week has
    not ended (after downtime the next scan catches up, within the week)."""
    return slot.scheduled_at <= now < slot.week_ends_at


def outcomes_included(period: Period) -> bool:
    """Tell whether a digest carries the monthly outcomes section: the digest sent (the day
    after its period, cohort time) on one of the first 7 days of a calendar month. A weekly
    digest has exactly one such day a month, so this is "the first digest of each month"."""
    return (period.end + timedelta(days=1)).day <= PERIOD_DAYS
