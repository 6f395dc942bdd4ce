"""The outcomes report's figures on a cohort computed by hand (docs/outcomes.md)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.domain.outcomes import (
    AlertData,
    PatientOutcomeData,
    Share,
    completion_periods,
    outcomes,
)

START, END = date(2026, 1, 1), date(2026, 12, 31)
BEFORE = date(2025, 12, 1)
JAN5 = date(2026, 1, 5)


def _day(base: date, days: int) -> date:
    return base + timedelta(days=days)


COHORT = [
    # P1: 20 -> 9 at day 36 (response, no remission) -> 4 at day 147 (both).
    PatientOutcomeData(
        BEFORE,
        None,
        phq9=[(JAN5, 20), (_day(JAN5, 36), 9), (_day(JAN5, 147), 4)],
        checkin_statuses=["completed", "missed"],
    ),
    # P2: 12 -> 7 (7 > 6: no response); nothing at 4-8 months.
    PatientOutcomeData(
        BEFORE,
        None,
        phq9=[(JAN5, 12), (_day(JAN5, 41), 7)],
        checkin_statuses=["partial", "skipped"],
    ),
    # P3: first PHQ-9 of 8: not eligible.
    PatientOutcomeData(BEFORE, None, phq9=[(JAN5, 8)], checkin_statuses=["stopped"]),
    # P4: 15 -> 4 at day 30, then 6 at day 50: the last in the window counts (response only).
    PatientOutcomeData(
        BEFORE,
        None,
        phq9=[(JAN5, 15), (_day(JAN5, 30), 4), (_day(JAN5, 50), 6)],
        checkin_statuses=["completed"],
    ),
    # P5: 10 and never again; left on June 30.
    PatientOutcomeData(BEFORE, date(2026, 6, 30), phq9=[(JAN5, 10)], checkin_statuses=["missed"]),
    # P6: baseline on December 1: no window has ended.
    PatientOutcomeData(date(2026, 11, 25), None, phq9=[(date(2026, 12, 1), 18)]),
    # P7: 11 -> 5 at day 40 (5 <= 5.5: response; 5 is not below 5: no remission).
    PatientOutcomeData(
        date(2026, 2, 20),
        None,
        phq9=[(date(2026, 3, 1), 11), (_day(date(2026, 3, 1), 40), 5)],
        gad7=[(date(2026, 3, 1), 14), (_day(date(2026, 3, 1), 40), 9)],
        checkin_statuses=["completed", "open"],
    ),
]
ALERTS = [
    *(
        AlertData(
            "IMMEDIATE",
            datetime(2026, 5, 1, 9, tzinfo=UTC),
            datetime(2026, 5, 1, 9, tzinfo=UTC) + timedelta(minutes=m),
        )
        for m in (2, 4, 6, 8, 10)
    ),
    AlertData("URGENT", datetime(2026, 5, 1, 9, tzinfo=UTC), None),
    AlertData("URGENT", datetime(2026, 5, 1, 9, tzinfo=UTC), datetime(2026, 5, 1, 10, tzinfo=UTC)),
]


def test_a_cohort_computed_by_hand() -> None:
    report = outcomes(COHORT, ALERTS, start=START, end=END)
    assert report.patients == 7
    assert report.phq9_baseline_above_9 == 6  # all but P3
    weeks, months = report.phq9
    # 4-8 weeks: P1, P2, P4, P5, P7 (P6's window has not ended).
    assert (weeks.response, weeks.second) == (Share(3, 5), Share(0, 5))
    assert weeks.response.percent == 60
    # 4-8 months: the same five; only P1 has a score there (4: response and remission).
    assert (months.response, months.second) == (Share(1, 5), Share(1, 5))
    # One GAD-7 patient: shown as too few.
    assert report.gad7_baseline_above_9 == 1
    assert report.gad7[0].response == Share(0, 1)  # 9 is more than half of 14
    assert report.gad7[0].second == Share(1, 1)  # 14 -> 9: 5 points
    assert report.gad7[0].response.percent is None
    # Jan-Apr: P1-P5 followed, all measured; May-Aug: P1-P4 and P7 (P5 left), only P1;
    # Sep-Dec: the same five, nobody measured (P6 enrolled after September 1).
    assert [s for _, _, s in report.completion] == [Share(5, 5), Share(1, 5), Share(0, 5)]
    # Days: 8 prompted (the open one is not), 5 answered, from 6 patients.
    assert report.adherence == Share(5, 8, 6)
    assert report.adherence.percent == 62
    immediate, urgent, routine = report.alerts
    assert (immediate.raised, immediate.acknowledged, immediate.median_minutes_to_ack) == (
        5,
        5,
        6,
    )
    assert (urgent.raised, urgent.acknowledged, urgent.median_minutes_to_ack) == (2, 1, None)
    assert (routine.raised, routine.median_minutes_to_ack) == (0, None)


def test_fewer_than_five_patients_are_never_shown_as_a_share() -> None:
    report = outcomes(COHORT[:4], [], start=START, end=END)
    shares = [w.response for w in report.phq9] + [w.second for w in report.phq9]
    shares += [s for _, _, s in report.completion] + [report.adherence]
    assert all(s.percent is None for s in shares)


@given(st.integers(0, 30), st.integers(0, 30))
def test_a_share_is_shown_only_from_five(count: int, denominator: int) -> None:
    share = Share(min(count, denominator), denominator)
    assert (share.percent is None) == (denominator < 5)
    if share.percent is not None:
        assert 0 <= share.percent <= 100


def test_completion_periods_are_whole_calendar_thirds() -> None:
    assert completion_periods(date(2026, 1, 1), date(2026, 12, 31)) == [
        (date(2026, 1, 1), date(2026, 4, 30)),
        (date(2026, 5, 1), date(2026, 8, 31)),
        (date(2026, 9, 1), date(2026, 12, 31)),
    ]
    assert completion_periods(date(2026, 1, 2), date(2026, 8, 30)) == []
    with pytest.raises(ValueError, match="ends before"):
        outcomes([], [], start=END, end=START)
