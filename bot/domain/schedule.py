"""Local-time arithmetic for daily check-ins.

All instants are aware UTC datetimes; a patient's schedule is a wall-clock time in an IANA
zone. The rules (docs/architecture.md, principle 4):

* a 09:00 patient is prompted at 09:00 local on every day, across DST changes;
* a wall time that does not exist on a day (inside a spring-forward gap) is moved to the first
  valid minute after the gap, once;
* a wall time that exists twice (inside a fall-back overlap) is used once, at its first
  occurrence.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

_MINUTE = timedelta(minutes=1)
MAX_CATCH_UP_DAYS = 60
# Samoa skipped a whole calendar day (2011-12-30); nothing else skips more.
_MAX_GAP_MINUTES = 24 * 60 + 1


def _is_real(local: datetime) -> bool:
    """Tell whether a naive wall time (with tzinfo attached) exists in its zone."""
    round_trip = local.astimezone(UTC).astimezone(local.tzinfo)
    return round_trip.replace(tzinfo=None) == local.replace(tzinfo=None)


def wall_time_to_utc(day: date, at: time, zone: ZoneInfo) -> datetime:
    """Return the UTC instant at which a wall-clock time happens on a local day.

    A time inside a DST gap becomes the first valid minute after the gap; a time inside an
    overlap resolves to its first occurrence (fold=0).
    """
    local = datetime.combine(day, at.replace(tzinfo=None, fold=0), tzinfo=zone)
    if not _is_real(local):
        candidate = local.replace(second=0, microsecond=0)
        for _ in range(_MAX_GAP_MINUTES):
            candidate = (candidate.replace(tzinfo=None) + _MINUTE).replace(tzinfo=zone)
            if _is_real(candidate):
                local = candidate
                break
    return local.astimezone(UTC)


def local_date(instant: datetime, zone: ZoneInfo) -> date:
    """Return the calendar date of an instant in a zone."""
    return instant.astimezone(zone).date()


def start_of_day(day: date, zone: ZoneInfo) -> datetime:
    """Return the UTC instant at which a local day begins (midnight, or the gap's end)."""
    return wall_time_to_utc(day, time(0, 0), zone)


def end_of_day(day: date, zone: ZoneInfo) -> datetime:
    """Return the UTC instant at which a local day ends (the next day's start)."""
    return start_of_day(day + timedelta(days=1), zone)


def window_close(day: date, at: time, zone: ZoneInfo, hours: int | None) -> datetime:
    """Return when a day's check-in closes: ``hours`` after the prompt time, or at the end of
    the local day when that comes first (or when no length is set)."""
    day_end = end_of_day(day, zone)
    if hours is None:
        return day_end
    return min(day_end, wall_time_to_utc(day, at, zone) + timedelta(hours=hours))


def next_occurrence(at: time, zone: ZoneInfo, after: datetime) -> datetime:
    """Return the first instant strictly after ``after`` at which the wall time ``at`` occurs.

    "Occurs" follows :func:`wall_time_to_utc`, so every local day yields exactly one instant.
    """
    day = local_date(after, zone) - timedelta(days=1)
    while True:
        candidate = wall_time_to_utc(day, at, zone)
        if candidate > after:
            return candidate
        day += timedelta(days=1)


@dataclass(frozen=True, slots=True)
class DuePlan:
    """What the due scan should do for one patient whose prompt time has come."""

    prompt_date: date | None
    """The local date whose check-in to open now, or None when its window has closed."""
    next_prompt_at: datetime
    """When the patient is due next (strictly after now)."""
    missed_dates: tuple[date, ...] = ()
    """Days that came and went unprompted (the bot was down): recorded as missed."""


def latest_occurrence(at: time, zone: ZoneInfo, until: datetime) -> datetime:
    """Return the last instant at or before ``until`` at which the wall time ``at`` occurs."""
    day = local_date(until, zone)
    candidate = wall_time_to_utc(day, at, zone)
    if candidate <= until:
        return candidate
    return wall_time_to_utc(day - timedelta(days=1), at, zone)


def plan_due(
    at: time, zone: ZoneInfo, due_at: datetime, now: datetime, window_hours: int | None = None
) -> DuePlan:
    """Decide which day's check-in a due patient gets, and when they are due next.

    After downtime a patient may be days behind: only the latest day whose prompt time has
    passed is prompted, and only while that day's window is still open.
    Earlier days are not prompted late; the missed-day bookkeeping records them.
    """
    if due_at > now:
        return DuePlan(prompt_date=None, next_prompt_at=due_at)
    latest = latest_occurrence(at, zone, now)
    day = local_date(latest if latest >= due_at else due_at, zone)
    prompt_date = day if now < window_close(day, at, zone, window_hours) else None
    missed = []
    first = local_date(due_at, zone)
    # Bounded: after a very long outage only the last weeks are worth a row each.
    start = max(first, day - timedelta(days=MAX_CATCH_UP_DAYS))
    current = start
    while current <= day:
        if current != prompt_date and wall_time_to_utc(current, at, zone) >= due_at - _MINUTE:
            missed.append(current)
        current += timedelta(days=1)
    return DuePlan(
        prompt_date=prompt_date,
        next_prompt_at=next_occurrence(at, zone, now),
        missed_dates=tuple(missed),
    )


def parse_hhmm(text: str) -> time:
    """Parse a 24-hour ``HH:MM`` time; raise ValueError with a clear message otherwise."""
    parts = text.strip().split(":")
    # isascii: str.isdigit also accepts other scripts' digits, which int() would then read.
    if len(parts) != 2 or not all(p.isascii() and p.isdigit() and 1 <= len(p) <= 2 for p in parts):
        raise ValueError(f"{text!r} is not a time in HH:MM form")
    hour, minute = int(parts[0]), int(parts[1])
    if not (0 <= hour <= 23 and 0 <= minute <= 59):
        raise ValueError(f"{text!r} is not a time of day")
    return time(hour, minute)


def zone_or_error(name: str) -> ZoneInfo:
    """Return the IANA zone of that name; raise ValueError naming it when there is none."""
    try:
        return ZoneInfo(name)
    except (KeyError, ValueError) as exc:
        raise ValueError(f"{name!r} is not an IANA time zone") from exc
