"""What the crisis card says about the care team's hours (docs/clinical.md §3.2 and §3.3): pure.

Every cohort declares its coverage: weekly hours, or around the clock ("24/7"). The card
states those hours; outside them it says that no one is watching now and when they are back;
a review time it promises always falls inside the hours (``alert_layout.review_by``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

from bot.domain.alert_layout import review_by
from bot.domain.coverage import Coverage
from bot.domain.schedule import wall_time_to_utc

ALWAYS: Literal["24/7"] = "24/7"
"""A cohort whose team watches alerts around the clock."""

CardCoverage = Coverage | Literal["24/7"] | None
"""A cohort's coverage as the card sees it; None: unknown (the cohort left the file)."""


@dataclass(frozen=True, slots=True)
class TeamHours:
    """The facts the card states about the team at one instant."""

    always: bool
    """The team watches around the clock (``coverage = "24/7"``)."""
    known: bool
    """The hours are known (False only for a cohort no longer in the configuration)."""
    watching: bool
    """Someone watches the alerts now."""
    back_at: datetime | None
    """Outside the hours: when the team next starts watching."""
    day_runs: tuple[tuple[int, int], ...]
    """Covered weekdays as runs of consecutive days (0 is Monday), e.g. ``((0, 4),)``."""
    start: str
    end: str
    zone: str
    """The IANA zone the hours are in (the cohort's)."""


def team_hours(coverage: CardCoverage, now: datetime) -> TeamHours:
    """Return what can truthfully be said about the team at ``now``."""
    if now.utcoffset() is None:
        raise ValueError("instants must be timezone-aware")
    if not isinstance(coverage, Coverage):
        always = coverage == ALWAYS
        return TeamHours(always, always, always, None, (), "", "", "")
    watching = coverage.covers(now)
    return TeamHours(
        always=False,
        known=True,
        watching=watching,
        back_at=None if watching else next_start(coverage, now),
        day_runs=day_runs(coverage.days),
        start=coverage.start.strftime("%H:%M"),
        end=coverage.end.strftime("%H:%M"),
        zone=coverage.zone.key,
    )


def review_time(coverage: CardCoverage, raised_at: datetime) -> datetime | None:
    """Return when an URGENT event will be reviewed: inside the hours, or 4 hours on
    around the clock; None when the hours are unknown (nothing is promised)."""
    if coverage is None:
        return None
    return review_by(raised_at, coverage if isinstance(coverage, Coverage) else None)


def next_start(coverage: Coverage, after: datetime) -> datetime:
    """Return the first start of covered hours after ``after``."""
    day = after.astimezone(coverage.zone).date()
    for offset in range(9):
        candidate = day + timedelta(days=offset)
        if candidate.weekday() not in coverage.days:
            continue
        start = wall_time_to_utc(candidate, coverage.start, coverage.zone)
        if start > after:
            return start
    raise AssertionError("unreachable: a covered day recurs within a week")


def day_runs(days: frozenset[int]) -> tuple[tuple[int, int], ...]:
    """Group weekday numbers into runs of consecutive days: {0,1,2,3,4,6} -> (0,4),(6,6)."""
    runs: list[tuple[int, int]] = []
    for day in sorted(days):
        if runs and runs[-1][1] == day - 1:
            runs[-1] = (runs[-1][0], day)
        else:
            runs.append((day, day))
    return tuple(runs)
