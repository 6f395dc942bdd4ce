"""Coverage hours and re-raise scheduling (pure)."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.domain.alerts import Tier
from bot.domain.coverage import Coverage, mentions_on_call, next_reraise

NY = ZoneInfo("America/New_York")
WEEKDAYS = Coverage(frozenset(range(5)), time(9, 0), time(17, 0), NY)


def ny(year: int, month: int, day: int, hour: int, minute: int) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=NY)


@pytest.mark.parametrize(
    ("instant", "covered"),
    [
        (ny(2026, 1, 13, 8, 59), False),  # Tuesday, before start
        (ny(2026, 1, 13, 9, 0), True),  # start is inclusive
        (ny(2026, 1, 13, 16, 59), True),
        (ny(2026, 1, 13, 17, 0), False),  # end is exclusive
        (ny(2026, 1, 17, 12, 0), False),  # Saturday
        (datetime(2026, 1, 13, 15, 0, tzinfo=UTC), True),  # 10:00 in New York
        (datetime(2026, 1, 13, 23, 0, tzinfo=UTC), False),  # 18:00 in New York
    ],
)
def test_covers(instant: datetime, covered: bool) -> None:
    assert WEEKDAYS.covers(instant) is covered


@pytest.mark.parametrize(
    ("instant", "end"),
    [
        (ny(2026, 1, 13, 10, 0), ny(2026, 1, 13, 17, 0)),  # in hours: today's end
        (ny(2026, 1, 13, 7, 0), ny(2026, 1, 13, 17, 0)),  # before hours: today's end
        (ny(2026, 1, 13, 17, 0), ny(2026, 1, 14, 17, 0)),  # after hours: tomorrow's
        (ny(2026, 1, 16, 20, 0), ny(2026, 1, 19, 17, 0)),  # Friday night: Monday's
        (ny(2026, 1, 18, 12, 0), ny(2026, 1, 19, 17, 0)),  # Sunday: Monday's
    ],
)
def test_end_of_business_day(instant: datetime, end: datetime) -> None:
    assert WEEKDAYS.end_of_business_day(instant) == end


def test_end_of_business_day_across_dst() -> None:
    # 2026-03-08: New York springs forward; 17:00 local is 21:00 UTC from then on.
    friday = ny(2026, 3, 6, 18, 0)
    assert WEEKDAYS.end_of_business_day(friday) == datetime(2026, 3, 9, 21, 0, tzinfo=UTC)


def test_single_covered_day_wraps_to_next_week() -> None:
    mondays = Coverage(frozenset({0}), time(9, 0), time(12, 0), NY)
    assert mondays.end_of_business_day(ny(2026, 1, 12, 13, 0)) == ny(2026, 1, 19, 12, 0)


def test_invalid_coverage_and_naive_instants_are_refused() -> None:
    with pytest.raises(ValueError, match="start"):
        Coverage(frozenset({0}), time(17, 0), time(9, 0), NY)
    with pytest.raises(ValueError, match="days"):
        Coverage(frozenset(), time(9, 0), time(17, 0), NY)
    with pytest.raises(ValueError, match="aware"):
        WEEKDAYS.covers(datetime(2026, 1, 13, 10, 0))


def test_immediate_steps_then_none() -> None:
    at = ny(2026, 1, 13, 10, 0)
    steps = (15, 30)
    assert next_reraise(Tier.IMMEDIATE, at, 0, steps, WEEKDAYS) == at + timedelta(minutes=15)
    assert next_reraise(Tier.IMMEDIATE, at, 1, steps, WEEKDAYS) == at + timedelta(minutes=30)
    assert next_reraise(Tier.IMMEDIATE, at, 2, steps, WEEKDAYS) is None
    assert next_reraise(Tier.IMMEDIATE, at, 0, (), None) is None


def test_urgent_once_at_end_of_business_day_and_routine_never() -> None:
    at = ny(2026, 1, 13, 10, 0)
    assert next_reraise(Tier.URGENT, at, 0, (15, 30), WEEKDAYS) == ny(2026, 1, 13, 17, 0)
    assert next_reraise(Tier.URGENT, at, 1, (15, 30), WEEKDAYS) is None
    assert next_reraise(Tier.URGENT, at, 0, (15, 30), None) is None  # no business day
    assert next_reraise(Tier.ROUTINE, at, 0, (15, 30), WEEKDAYS) is None


def test_on_call_is_paged_on_the_last_immediate_step() -> None:
    assert not mentions_on_call(Tier.IMMEDIATE, 1, (15, 30))
    assert mentions_on_call(Tier.IMMEDIATE, 2, (15, 30))
    assert not mentions_on_call(Tier.IMMEDIATE, 1, (15,))  # one step: a plain re-alert
    assert not mentions_on_call(Tier.URGENT, 1, (15, 30))


@given(st.datetimes(min_value=datetime(2020, 1, 1), max_value=datetime(2035, 1, 1)))
def test_end_of_business_day_is_a_covered_end_after_the_instant(naive: datetime) -> None:
    instant = naive.replace(tzinfo=UTC)
    end = WEEKDAYS.end_of_business_day(instant)
    assert end > instant
    assert end - instant <= timedelta(days=4)  # Friday 17:00 -> Monday 17:00 at most
    local = end.astimezone(NY)
    assert local.weekday() < 5 and local.time() == time(17, 0)
    assert WEEKDAYS.covers(end - timedelta(minutes=1)) and not WEEKDAYS.covers(end)


def test_cohort_config_reads_coverage_reraise_and_on_call() -> None:
    from bot.cohort_config import CohortConfig

    cohort = CohortConfig.model_validate(
        {
            "name": "c",
            "provider_chat_id": -1,
            "timezone": "America/New_York",
            "on_call": ["@dr_oncall"],
            "reraise_minutes": [10, 20],
            "coverage": {"days": ["mon", "fri"], "start": "8:30", "end": "17:00"},
        }
    )
    coverage = cohort.coverage_hours
    assert coverage is not None
    assert coverage.days == {0, 4} and coverage.start == time(8, 30)
    assert cohort.reraise_minutes == (10, 20)
    for bad in (
        {"reraise_minutes": [30, 15]},
        {"on_call": ["dr_oncall"]},
        {"coverage": {"days": ["mon"], "start": "17:00", "end": "09:00"}},
        {"coverage": {"days": ["monday"], "start": "09:00", "end": "17:00"}},
    ):
        with pytest.raises(ValueError):  # noqa: PT011 - pydantic's message varies
            CohortConfig.model_validate({"name": "c", "provider_chat_id": -1, **bad})
