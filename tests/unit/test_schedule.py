"""Time-zone arithmetic of daily prompts: DST gaps and overlaps, odd offsets, downtime."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.domain.schedule import (
    end_of_day,
    local_date,
    next_occurrence,
    parse_hhmm,
    plan_due,
    wall_time_to_utc,
    window_close,
    zone_or_error,
)

ZONES = [
    "America/New_York",
    "Europe/London",
    "Asia/Kolkata",
    "Australia/Lord_Howe",
    "Pacific/Kiritimati",
    "Pacific/Apia",
    "UTC",
]


@pytest.mark.parametrize(
    ("zone", "day", "at", "expected_local"),
    [
        # Spring forward in New York: 02:00-02:59 does not exist; 02:30 goes to 03:00.
        ("America/New_York", date(2026, 3, 8), time(2, 30), "2026-03-08 03:00 EDT"),
        ("America/New_York", date(2026, 3, 8), time(9, 0), "2026-03-08 09:00 EDT"),
        ("America/New_York", date(2026, 3, 7), time(9, 0), "2026-03-07 09:00 EST"),
        # Fall back: 01:30 happens twice; the first one is used.
        ("America/New_York", date(2026, 11, 1), time(1, 30), "2026-11-01 01:30 EDT"),
        ("Europe/London", date(2026, 3, 29), time(1, 15), "2026-03-29 02:00 BST"),
        ("Europe/London", date(2026, 10, 25), time(1, 15), "2026-10-25 01:15 BST"),
        # Lord Howe moves its clocks by 30 minutes.
        ("Australia/Lord_Howe", date(2026, 10, 4), time(2, 15), "2026-10-04 02:30 +11"),
        ("Australia/Lord_Howe", date(2026, 4, 5), time(1, 45), "2026-04-05 01:45 +11"),
        ("Asia/Kolkata", date(2026, 6, 1), time(9, 0), "2026-06-01 09:00 IST"),
        ("Pacific/Kiritimati", date(2026, 6, 1), time(9, 0), "2026-06-01 09:00 +14"),
        # Samoa skipped 30 December 2011 entirely: the next valid minute is midnight on the 31st.
        ("Pacific/Apia", date(2011, 12, 30), time(9, 0), "2011-12-31 00:00 +14"),
    ],
)
def test_wall_time_to_utc(zone: str, day: date, at: time, expected_local: str) -> None:
    tz = ZoneInfo(zone)
    instant = wall_time_to_utc(day, at, tz)
    assert instant.tzinfo is UTC
    assert instant.astimezone(tz).strftime("%Y-%m-%d %H:%M %Z") == expected_local


def test_nine_am_stays_nine_am_across_dst() -> None:
    tz = ZoneInfo("America/New_York")
    instant = datetime(2026, 3, 5, 20, 0, tzinfo=UTC)
    seen = []
    for _ in range(6):
        instant = next_occurrence(time(9, 0), tz, instant)
        seen.append(instant.astimezone(tz).strftime("%m-%d %H:%M"))
    assert seen == [
        "03-06 09:00",
        "03-07 09:00",
        "03-08 09:00",
        "03-09 09:00",
        "03-10 09:00",
        "03-11 09:00",
    ]


def test_a_gap_time_is_sent_once_on_the_change_day() -> None:
    tz = ZoneInfo("America/New_York")
    first = next_occurrence(time(2, 30), tz, datetime(2026, 3, 7, 12, tzinfo=UTC))
    second = next_occurrence(time(2, 30), tz, first)
    assert first.astimezone(tz).strftime("%d %H:%M") == "08 03:00"
    assert second.astimezone(tz).strftime("%d %H:%M") == "09 02:30"


def test_end_of_day_is_next_local_midnight() -> None:
    tz = ZoneInfo("Asia/Kolkata")
    assert end_of_day(date(2026, 1, 1), tz) == datetime(2026, 1, 1, 18, 30, tzinfo=UTC)


def test_plan_due_prompts_today_when_on_time() -> None:
    tz = ZoneInfo("Europe/London")
    due = wall_time_to_utc(date(2026, 6, 1), time(9), tz)
    plan = plan_due(time(9), tz, due, due + timedelta(seconds=20))
    assert plan.prompt_date == date(2026, 6, 1)
    assert plan.next_prompt_at == wall_time_to_utc(date(2026, 6, 2), time(9), tz)


def test_plan_due_after_downtime_prompts_only_the_open_day() -> None:
    tz = ZoneInfo("Europe/London")
    due = wall_time_to_utc(date(2026, 6, 1), time(9), tz)
    now = wall_time_to_utc(date(2026, 6, 4), time(10), tz)
    plan = plan_due(time(9), tz, due, now)
    assert plan.prompt_date == date(2026, 6, 4)
    assert plan.next_prompt_at == wall_time_to_utc(date(2026, 6, 5), time(9), tz)


def test_plan_due_late_evening_time_after_midnight_downtime_skips_closed_day() -> None:
    tz = ZoneInfo("Europe/London")
    due = wall_time_to_utc(date(2026, 6, 1), time(23, 30), tz)
    now = wall_time_to_utc(date(2026, 6, 2), time(0, 10), tz)
    plan = plan_due(time(23, 30), tz, due, now)
    assert plan.prompt_date is None
    assert plan.next_prompt_at == wall_time_to_utc(date(2026, 6, 2), time(23, 30), tz)


def test_plan_due_not_yet_due_changes_nothing() -> None:
    tz = ZoneInfo("UTC")
    due = datetime(2026, 6, 2, 9, tzinfo=UTC)
    plan = plan_due(time(9), tz, due, due - timedelta(minutes=1))
    assert plan.prompt_date is None
    assert plan.next_prompt_at == due


@pytest.mark.parametrize("text", ["9", "24:00", "12:60", "ab:cd", "", "1:2:3", "-1:00", "٠٩:٠٠"])
def test_parse_hhmm_rejects(text: str) -> None:
    with pytest.raises(ValueError, match="time"):
        parse_hhmm(text)


def test_parse_hhmm_accepts() -> None:
    assert parse_hhmm(" 7:05 ") == time(7, 5)
    assert parse_hhmm("23:59") == time(23, 59)


def test_zone_or_error_names_the_zone() -> None:
    with pytest.raises(ValueError, match="Mars/Olympus"):
        zone_or_error("Mars/Olympus")


instants = st.datetimes(
    min_value=datetime(2000, 1, 1), max_value=datetime(2037, 12, 31), timezones=st.just(UTC)
)
wall_times = st.times().map(lambda t: t.replace(second=0, microsecond=0))


@settings(max_examples=300, deadline=None)
@given(zone=st.sampled_from(ZONES), at=wall_times, after=instants)
def test_next_occurrence_properties(zone: str, at: time, after: datetime) -> None:
    tz = ZoneInfo(zone)
    found = next_occurrence(at, tz, after)
    assert found > after
    local = found.astimezone(tz)
    # Either the wall time itself, or the first minute after a gap that swallowed it.
    if local.time().replace(tzinfo=None) != at:
        assert (
            local.time() > at or local.date() > (found - timedelta(days=1)).astimezone(tz).date()
        )
        before = (found - timedelta(minutes=1)).astimezone(tz)
        assert before.utcoffset() != local.utcoffset()
    # Nothing was skipped: no occurrence lies between ``after`` and ``found``.
    assert wall_time_to_utc(local_date(found, tz) - timedelta(days=1), at, tz) <= after or (
        local_date(found, tz) - timedelta(days=1) < local_date(after, tz)
    )


@settings(max_examples=300, deadline=None)
@given(zone=st.sampled_from(ZONES), at=wall_times, after=instants)
def test_consecutive_occurrences_fall_on_consecutive_local_days(
    zone: str, at: time, after: datetime
) -> None:
    tz = ZoneInfo(zone)
    first = next_occurrence(at, tz, after)
    second = next_occurrence(at, tz, first)
    gap_days = (local_date(second, tz) - local_date(first, tz)).days
    # One day, except where a zone skipped a calendar day (Samoa, 2011).
    assert gap_days in (1, 2) if zone == "Pacific/Apia" else gap_days == 1
    assert timedelta(hours=22) <= second - first <= timedelta(hours=26) or zone == "Pacific/Apia"


@settings(max_examples=200, deadline=None)
@given(
    zone=st.sampled_from(ZONES),
    at=wall_times,
    start=instants,
    late=st.integers(min_value=0, max_value=5 * 24 * 60),
)
def test_plan_due_properties(zone: str, at: time, start: datetime, late: int) -> None:
    tz = ZoneInfo(zone)
    due = next_occurrence(at, tz, start)
    now = due + timedelta(minutes=late)
    plan = plan_due(at, tz, due, now)
    assert plan.next_prompt_at > now
    if plan.prompt_date is not None:
        # The prompted day is still open and its prompt time has passed.
        assert now < end_of_day(plan.prompt_date, tz)
        assert local_date(due, tz) <= plan.prompt_date <= local_date(now, tz)
    elif late < 60 and now < end_of_day(local_date(due, tz), tz):
        pytest.fail("a patient due within the hour, on the same day, must be prompted")


def test_window_close_defaults_to_the_end_of_the_local_day() -> None:
    tz = ZoneInfo("Asia/Kolkata")
    day = date(2026, 1, 1)
    assert window_close(day, time(9), tz, None) == end_of_day(day, tz)
    assert window_close(day, time(9), tz, 3) == datetime(2026, 1, 1, 6, 30, tzinfo=UTC)
    # A late prompt with a long window still closes at local midnight.
    assert window_close(day, time(22), tz, 6) == end_of_day(day, tz)


def test_plan_due_respects_a_short_window_after_downtime() -> None:
    tz = ZoneInfo("UTC")
    due = datetime(2026, 6, 1, 9, tzinfo=UTC)
    late = datetime(2026, 6, 1, 13, tzinfo=UTC)
    assert plan_due(time(9), tz, due, late, window_hours=3).prompt_date is None
    assert plan_due(time(9), tz, due, late, window_hours=5).prompt_date == date(2026, 6, 1)
    assert plan_due(time(9), tz, due, late).prompt_date == date(2026, 6, 1)
