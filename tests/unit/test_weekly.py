"""Which instruments a day's check-in carries."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.domain.weekly import composite_id, first_instrument_day, instruments_due

MONDAY = date(2026, 1, 12)


def due(day: date, **kw: object) -> tuple[str, ...]:
    args: dict[str, object] = {
        "weekday": "mon",
        "weekly": ("phq9", "gad7"),
        "enrolled_on": MONDAY,
        "pcl5_every_weeks": None,
    }
    args.update(kw)
    return instruments_due(day, **args)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("day", "expected"),
    [
        (MONDAY, ("phq9", "gad7")),
        (MONDAY + timedelta(days=1), ()),
        (MONDAY + timedelta(days=7), ("phq9", "gad7")),
        (MONDAY - timedelta(days=7), ()),  # before enrolment
    ],
)
def test_weekly_on_the_cohort_weekday(day: date, expected: tuple[str, ...]) -> None:
    assert due(day) == expected


def test_pcl5_every_four_weeks_from_the_first_instrument_day() -> None:
    enrolled = date(2026, 1, 14)  # a Wednesday: the first instrument day is Monday the 19th
    assert first_instrument_day(enrolled, "mon") == date(2026, 1, 19)
    days = [date(2026, 1, 19) + timedelta(weeks=w) for w in range(9)]
    got = [due(d, enrolled_on=enrolled, pcl5_every_weeks=4) for d in days]
    assert [("pcl5" in g) for g in got] == [
        True,
        False,
        False,
        False,
        True,
        False,
        False,
        False,
        True,
    ]
    assert all(g[:2] == ("phq9", "gad7") for g in got)


def test_nothing_when_nothing_is_enabled() -> None:
    assert due(MONDAY, weekly=()) == ()
    assert due(MONDAY, weekly=(), pcl5_every_weeks=4) == ("pcl5",)
    assert due(MONDAY, weekly=("gad7",)) == ("gad7",)


def test_composite_ids() -> None:
    assert composite_id("daily", ("phq9", "gad7")) == "daily+phq9+gad7"
    assert composite_id("daily", ()) == "daily"


@given(
    st.dates(min_value=date(2020, 1, 1), max_value=date(2035, 1, 1)),
    st.dates(min_value=date(2020, 1, 1), max_value=date(2035, 1, 1)),
    st.sampled_from(["mon", "tue", "wed", "thu", "fri", "sat", "sun"]),
)
def test_at_most_weekly_and_only_on_the_weekday(day: date, enrolled: date, weekday: str) -> None:
    got = due(day, weekday=weekday, enrolled_on=enrolled)
    if got:
        assert day >= enrolled
        assert day.strftime("%a").lower() == weekday
        assert due(day + timedelta(days=1), weekday=weekday, enrolled_on=enrolled) == ()
