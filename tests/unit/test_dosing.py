"""The /dosing parser, dose instants across DST, post-dose slots, and the course start."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.domain.course import course_start
from bot.domain.dosing import (
    WEEKDAYS,
    DosingError,
    DosingSchedule,
    dose_at,
    parse_dosing,
    post_dose_slots,
    stored_schedule,
)

NEW_YORK = ZoneInfo("America/New_York")

day_sets = st.sets(st.sampled_from(WEEKDAYS), min_size=1, max_size=7)
times = st.times().map(lambda t: t.replace(second=0, microsecond=0))


@given(day_sets, times, st.booleans())
def test_a_schedule_round_trips(days: set[str], at: time, upper: bool) -> None:
    names = [d.upper() if upper else d for d in days]
    schedule = parse_dosing((",".join(names), at.strftime("%H:%M")))
    assert schedule is not None
    assert {WEEKDAYS[n] for n in schedule.weekdays} == days
    assert schedule.at == at
    # What is stored reads back as the same schedule.
    assert stored_schedule(schedule.days_text, schedule.time_text) == schedule


@given(st.lists(st.text(max_size=20), max_size=4))
def test_any_arguments_parse_or_are_refused_with_a_reason(args: list[str]) -> None:
    reason = None
    try:
        result = parse_dosing(tuple(args))
    except DosingError as error:
        reason = error.reason
    if reason is not None:
        assert reason in {"usage", "bad_days", "repeated_day", "bad_time"}
    elif result is None:
        assert [a.strip().lower() for a in args] == ["off"]
    else:
        assert len(args) == 2 and result.weekdays


@pytest.mark.parametrize(
    ("args", "reason"),
    [
        ((), "usage"),
        (("mon,thu",), "usage"),
        (("mon,thu", "19:00", "extra"), "usage"),
        (("monday", "19:00"), "bad_days"),
        (("mon,,thu", "19:00"), "bad_days"),
        (("mon,mon", "19:00"), "repeated_day"),
        (("mon,thu", "7pm"), "bad_time"),
        (("mon,thu", "24:00"), "bad_time"),
    ],
)
def test_bad_arguments_name_their_problem(args: tuple[str, ...], reason: str) -> None:
    with pytest.raises(DosingError) as caught:
        parse_dosing(args)
    assert caught.value.reason == reason


def test_off_clears() -> None:
    assert parse_dosing(("OFF",)) is None


@given(st.dates(min_value=date(2020, 1, 1), max_value=date(2035, 12, 31)), times)
def test_a_dose_happens_at_its_wall_time_in_the_patients_zone(day: date, at: time) -> None:
    schedule = DosingSchedule(frozenset(range(7)), at)
    instant = dose_at(schedule, day, NEW_YORK)
    assert instant is not None
    local = instant.astimezone(NEW_YORK)
    assert local.date() == day
    # The same wall time, except inside a spring-forward gap (moved to the gap's end).
    assert local.time() == at or timedelta(0) < local - datetime.combine(
        day, at, NEW_YORK
    ) <= timedelta(hours=1)


def test_dose_times_follow_the_dst_change() -> None:
    sunday_evening = DosingSchedule(frozenset({6}), time(19, 0))
    # US clocks go forward on Sunday 2026-03-08: 19:00 is 00:00 UTC before, 23:00 UTC after.
    assert dose_at(sunday_evening, date(2026, 3, 1), NEW_YORK) == datetime(
        2026, 3, 2, 0, 0, tzinfo=UTC
    )
    assert dose_at(sunday_evening, date(2026, 3, 8), NEW_YORK) == datetime(
        2026, 3, 8, 23, 0, tzinfo=UTC
    )
    assert dose_at(sunday_evening, date(2026, 3, 9), NEW_YORK) is None


def test_post_dose_slots_open_after_the_delay_and_only_for_doses_after_the_schedule() -> None:
    schedule = DosingSchedule(frozenset({0, 3}), time(19, 0))  # Mon, Thu
    delay, window = timedelta(hours=3), timedelta(hours=4)
    monday_dose = datetime(2026, 1, 13, 0, 0, tzinfo=UTC)  # Mon 19:00 in New York
    since = monday_dose - timedelta(days=1)

    def slots(now: datetime, since: datetime = since) -> list[date]:
        found = post_dose_slots(
            schedule, NEW_YORK, delay=delay, window=window, now=now, since=since
        )
        return [s.dose_date for s in found]

    assert slots(monday_dose + delay - timedelta(seconds=1)) == []
    assert slots(monday_dose + delay) == [date(2026, 1, 12)]
    [slot] = post_dose_slots(
        schedule, NEW_YORK, delay=delay, window=window, now=monday_dose + delay, since=since
    )
    assert slot.closes_at == monday_dose + delay + window
    # A schedule set after the dose: that dose gets no check.
    assert slots(monday_dose + delay, since=monday_dose + timedelta(minutes=1)) == []


def test_the_course_starts_at_enrolment_until_a_provider_records_one() -> None:
    enrolled = date(2026, 1, 12)
    assert course_start(None, enrolled) == enrolled
    assert course_start(date(2026, 2, 2), enrolled) == date(2026, 2, 2)
    assert course_start(date(2026, 1, 1), enrolled) == enrolled
