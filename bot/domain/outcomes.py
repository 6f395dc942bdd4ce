"""Cohort outcome measures for the care team (docs/outcomes.md): pure arithmetic over plain
values. Every figure carries its denominator, and a share over fewer than ``MIN_DENOMINATOR``
patients is reported as "too few" rather than as a percentage that would single people out
and mean little.

Definitions, after HEDIS's depression measures (DRR: response and remission; DMS: measurement
completion) and the instruments' published change thresholds:

- **Depression baseline**: a patient's first PHQ-9; they count for response and remission
  when it is above 9.
- **Response**: the last PHQ-9 in the follow-up window is at most half the baseline.
  **Remission**: the last PHQ-9 in the window is below 5. Windows: 4-8 weeks and 4-8 months
  after the baseline. A patient enters a window's denominator once the window has ended; one
  with no PHQ-9 in it counts as not responding (as in HEDIS).
- **GAD-7**: the same with the first GAD-7 above 9 as baseline; response at least a 50 % drop,
  and the minimal clinically important difference, a drop of at least 4 points (Toussaint
  2020, bot.domain.instruments).
- **Measurement completion**: for each 4-month period (January-April, May-August,
  September-December) inside the report, the share of patients enrolled before it began and
  still followed when it ended who have at least one PHQ-9 in it.
- **Check-in adherence**: days answered (completed, stopped by a safety answer, or partial)
  of days prompted (every closed check-in) in the report's period.
- **Alerts**: raised in the period, by tier; the median time from raised to acknowledged over
  the acknowledged ones.
"""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

MIN_DENOMINATOR = 5
"""No share is shown over fewer patients than this ("too few")."""
BASELINE_ABOVE = 9
"""PHQ-9 (and GAD-7) baselines above this count (HEDIS DRR: PHQ-9 > 9)."""
REMISSION_BELOW = 5
GAD7_MCID = 4
ANSWERED = frozenset({"completed", "stopped", "partial"})
PROMPTED = frozenset({"completed", "stopped", "partial", "skipped", "missed"})
TIERS = ("IMMEDIATE", "URGENT", "ROUTINE")


@dataclass(frozen=True, slots=True)
class Window:
    """A follow-up window after the baseline, in days (inclusive start, inclusive end)."""

    name: str
    start: int
    end: int


WINDOWS = (Window("4-8 weeks", 28, 56), Window("4-8 months", 122, 244))
"""4 months = 122 days and 8 months = 244 days (a year's 365 days / 12 x 4 and x 8)."""


@dataclass(frozen=True, slots=True)
class Share:
    """A count out of a denominator (patients, or days of ``people`` patients)."""

    count: int
    denominator: int
    people: int | None = None
    """How many patients the denominator comes from, when it does not count patients."""

    @property
    def shown(self) -> bool:
        """Tell whether the share may be shown (enough patients behind it)."""
        people = self.denominator if self.people is None else self.people
        return people >= MIN_DENOMINATOR and self.denominator > 0

    @property
    def percent(self) -> int | None:
        """Return the rounded percentage, or None when there are too few patients."""
        if not self.shown:
            return None
        return round(100 * self.count / self.denominator)


@dataclass(frozen=True, slots=True)
class PatientOutcomeData:
    """What the report needs of one patient."""

    enrolled: date
    left: date | None
    """The day they were discharged or withdrew; None while followed."""
    phq9: Sequence[tuple[date, int]] = ()
    gad7: Sequence[tuple[date, int]] = ()
    checkin_statuses: Sequence[str] = ()
    """Statuses of the patient's closed check-ins in the report's period."""


@dataclass(frozen=True, slots=True)
class AlertData:
    """One alert raised in the period."""

    tier: str
    raised: datetime
    acknowledged: datetime | None


@dataclass(frozen=True, slots=True)
class WindowOutcome:
    """Response and remission (or MCID) in one window."""

    window: str
    response: Share
    second: Share
    """Remission for the PHQ-9, the MCID for the GAD-7."""


@dataclass(frozen=True, slots=True)
class AlertFigures:
    """Alerts of one tier."""

    tier: str
    raised: int
    acknowledged: int
    median_minutes_to_ack: float | None
    """None with fewer than MIN_DENOMINATOR acknowledged."""


@dataclass(frozen=True, slots=True)
class OutcomesReport:
    """Every figure of the report."""

    start: date
    end: date
    patients: int
    phq9_baseline_above_9: int
    gad7_baseline_above_9: int
    phq9: tuple[WindowOutcome, ...]
    gad7: tuple[WindowOutcome, ...]
    completion: tuple[tuple[date, date, Share], ...]
    adherence: Share
    """Days answered out of days prompted (shown when 5 or more patients were prompted)."""
    alerts: tuple[AlertFigures, ...] = field(default_factory=tuple)


def _last_in(series: Sequence[tuple[date, int]], first: date, last: date) -> int | None:
    inside = [total for day, total in sorted(series) if first <= day <= last]
    return inside[-1] if inside else None


def _windows(
    series_of: Sequence[Sequence[tuple[date, int]]],
    today: date,
    *,
    second: str,
) -> tuple[tuple[WindowOutcome, ...], int]:
    """Response and remission/MCID per window; and how many patients had a baseline > 9."""
    baselines = [(sorted(s)[0], s) for s in series_of if s]
    eligible = [(b, s) for b, s in baselines if b[1] > BASELINE_ABOVE]
    outcomes = []
    for window in WINDOWS:
        due = [(b, s) for b, s in eligible if b[0] + timedelta(days=window.end) <= today]
        responded = met = 0
        for (day, base), series in due:
            last = _last_in(
                series, day + timedelta(days=window.start), day + timedelta(days=window.end)
            )
            if last is None:
                continue
            responded += last <= base / 2
            met += last < REMISSION_BELOW if second == "remission" else base - last >= GAD7_MCID
        outcomes.append(
            WindowOutcome(window.name, Share(responded, len(due)), Share(met, len(due)))
        )
    return tuple(outcomes), len(eligible)


def completion_periods(start: date, end: date) -> list[tuple[date, date]]:
    """Return the whole 4-month periods (Jan-Apr, May-Aug, Sep-Dec) inside [start, end]."""
    periods = []
    year = start.year
    while date(year, 1, 1) <= end:
        for first_month in (1, 5, 9):
            first = date(year, first_month, 1)
            last = (
                date(year + 1, 1, 1) if first_month == 9 else date(year, first_month + 4, 1)
            ) - timedelta(days=1)
            if start <= first and last <= end:
                periods.append((first, last))
        year += 1
    return periods


def _completion(
    patients: Sequence[PatientOutcomeData], start: date, end: date
) -> tuple[tuple[date, date, Share], ...]:
    out = []
    for first, last in completion_periods(start, end):
        followed = [
            p for p in patients if p.enrolled < first and (p.left is None or p.left > last)
        ]
        measured = sum(any(first <= day <= last for day, _ in p.phq9) for p in followed)
        out.append((first, last, Share(measured, len(followed))))
    return tuple(out)


def _alerts(alerts: Sequence[AlertData]) -> tuple[AlertFigures, ...]:
    figures = []
    for tier in TIERS:
        of_tier = [a for a in alerts if a.tier == tier]
        waits = [
            (a.acknowledged - a.raised).total_seconds() / 60
            for a in of_tier
            if a.acknowledged is not None
        ]
        median = statistics.median(waits) if len(waits) >= MIN_DENOMINATOR else None
        figures.append(AlertFigures(tier, len(of_tier), len(waits), median))
    return tuple(figures)


def outcomes(
    patients: Sequence[PatientOutcomeData],
    alerts: Sequence[AlertData],
    *,
    start: date,
    end: date,
) -> OutcomesReport:
    """Compute the report for a cohort's patients over [start, end] (``end`` is "today" for
    whether a follow-up window has ended)."""
    if end < start:
        raise ValueError("the report ends before it starts")
    phq9, phq9_eligible = _windows([p.phq9 for p in patients], end, second="remission")
    gad7, gad7_eligible = _windows([p.gad7 for p in patients], end, second="mcid")
    statuses = [s for p in patients for s in p.checkin_statuses if s in PROMPTED]
    people = sum(any(s in PROMPTED for s in p.checkin_statuses) for p in patients)
    adherence = Share(sum(s in ANSWERED for s in statuses), len(statuses), people)
    return OutcomesReport(
        start=start,
        end=end,
        patients=len(patients),
        phq9_baseline_above_9=phq9_eligible,
        gad7_baseline_above_9=gad7_eligible,
        phq9=phq9,
        gad7=gad7,
        completion=_completion(patients, start, end),
        adherence=adherence,
        alerts=_alerts(alerts),
    )
