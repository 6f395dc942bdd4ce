"""A patient's dosing schedule (set by a provider: ``/dosing LABEL mon,thu 19:00``) and the
post-dose check that follows each scheduled dose (docs/clinical.md §1.3).

The schedule is stored as the patient's local weekdays and wall-clock time, never as UTC
instants: each dose's instant is worked out when it is needed with ``zoneinfo``
(``bot.domain.schedule.wall_time_to_utc``), so a 19:00 dose stays at 19:00 local across DST
changes, exactly as the daily check-in does. The bot only uses the schedule to time its
questions; it never tells a patient to take, delay or skip a dose.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from bot.domain.schedule import local_date, parse_hhmm, wall_time_to_utc

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
OFF = "off"


class DosingError(ValueError):
    """Arguments of /dosing that do not describe a schedule (``reason`` names the problem)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True, slots=True)
class DosingSchedule:
    """Dose days (weekday numbers, Monday 0) and the local time of the dose."""

    weekdays: frozenset[int]
    at: time

    @property
    def days_text(self) -> str:
        """The weekdays as stored and shown: ``mon,thu`` in week order."""
        return ",".join(WEEKDAYS[n] for n in sorted(self.weekdays))

    @property
    def time_text(self) -> str:
        """The local dose time as ``HH:MM``."""
        return self.at.strftime("%H:%M")


def parse_days(text: str) -> frozenset[int]:
    """Parse ``mon,thu`` (any case, no repeats, at least one day); raise DosingError."""
    names = [part.strip().lower() for part in text.split(",")]
    if not names or any(name not in WEEKDAYS for name in names):
        raise DosingError("bad_days")
    if len(set(names)) != len(names):
        raise DosingError("repeated_day")
    return frozenset(WEEKDAYS.index(name) for name in names)


def parse_dosing(args: tuple[str, ...]) -> DosingSchedule | None:
    """Parse the arguments after the label: ``DAYS HH:MM`` (a schedule) or ``off`` (None).

    Raise DosingError for anything else, naming what is wrong (``bad_days``,
    ``repeated_day``, ``bad_time`` or ``usage``).
    """
    if len(args) == 1 and args[0].strip().lower() == OFF:
        return None
    if len(args) != 2:
        raise DosingError("usage")
    days = parse_days(args[0])
    try:
        at = parse_hhmm(args[1])
    except ValueError:
        raise DosingError("bad_time") from None
    return DosingSchedule(days, at)


def stored_schedule(days: str | None, at: str | None) -> DosingSchedule | None:
    """Return a stored schedule (``patients.dosing_days``, ``dosing_time``), None if unset."""
    if not days or not at:
        return None
    return DosingSchedule(parse_days(days), parse_hhmm(at))


def dose_at(schedule: DosingSchedule, day: date, zone: ZoneInfo) -> datetime | None:
    """Return the UTC instant of the dose on a local day, or None when it is not a dose day."""
    if day.weekday() not in schedule.weekdays:
        return None
    return wall_time_to_utc(day, schedule.at, zone)


@dataclass(frozen=True, slots=True)
class PostDoseSlot:
    """One dose's post-dose check: the dose's local date and when the check opens/closes."""

    dose_date: date
    opens_at: datetime
    closes_at: datetime


def post_dose_slots(
    schedule: DosingSchedule,
    zone: ZoneInfo,
    *,
    delay: timedelta,
    window: timedelta,
    now: datetime,
    since: datetime,
) -> list[PostDoseSlot]:
    """Return the post-dose checks whose opening time has come by ``now``, for doses after
    ``since`` (when the schedule was set) and at most two local days back (a dose a day
    late in opening is still asked while its window lasts; older ones are recorded as not
    answered by the caller).
    """
    today = local_date(now, zone)
    slots = []
    for back in (2, 1, 0):
        day = today - timedelta(days=back)
        dose = dose_at(schedule, day, zone)
        if dose is None or dose < since:
            continue
        opens = dose + delay
        if opens <= now:
            slots.append(PostDoseSlot(day, opens, opens + window))
    return slots
