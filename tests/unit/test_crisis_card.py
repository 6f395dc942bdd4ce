"""The one crisis-card builder: the patient's region's lines, in their language, and what is
truthfully said about the care team's hours (docs/clinical.md §3.3)."""

from __future__ import annotations

import re
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.domain.coverage import Coverage
from bot.domain.team_hours import CardCoverage, day_runs, next_start, review_time, team_hours
from bot.services.alerts.crisis_card import CardKind, crisis_card, patient_region
from prompts.regions import load_regions
from prompts.render import Renderer

RENDERER = Renderer()
REGIONS = load_regions(RENDERER.locales)
NY = ZoneInfo("America/New_York")
MADRID = ZoneInfo("Europe/Madrid")
WEEKDAYS = Coverage(frozenset(range(5)), time(9), time(17), NY)
SUNDAY_3AM = datetime(2026, 1, 11, 3, 0, tzinfo=NY)
TUESDAY_10AM = datetime(2026, 1, 13, 10, 0, tzinfo=NY)


def card(
    region: str | None = "US",
    *,
    kind: CardKind = "crisis_card",
    locale: str = "en",
    coverage: CardCoverage = WEEKDAYS,
    now: datetime = TUESDAY_10AM,
    zone: ZoneInfo | None = NY,
    team_notified: bool = True,
    urgent: bool = False,
) -> str:
    return crisis_card(
        RENDERER,
        REGIONS,
        kind=kind,
        locale=locale,
        region=region,
        coverage=coverage,
        now=now,
        zone=zone,
        team_notified=team_notified,
        urgent=urgent,
    )


def bold(text: str) -> set[str]:
    return set(re.findall(r"<b>([^<]+)</b>", text))


def test_a_patient_in_spain_gets_spains_lines_in_spanish() -> None:
    text = card("ES", locale="es", zone=MADRID)
    assert {"112", "024", "717 003 717"} <= bold(text)
    assert "911" not in text and "988" not in text
    assert "Si está en peligro ahora mismo" in text
    assert "gratuita" not in text.split("717 003 717")[1].lower()  # not stated as free


@pytest.mark.parametrize("locale", RENDERER.locales)
@pytest.mark.parametrize("code", REGIONS.codes)
def test_every_region_shows_its_own_numbers_and_no_other(locale: str, code: str) -> None:
    region = REGIONS.get(code)
    text = card(code, locale=locale)
    own = set()
    for line in (region.emergency, *region.lines):
        own |= bold(line.text[locale])
    assert own <= bold(text)
    # Only the region's numbers are bold (besides headings): no other region's line leaks in.
    assert not {b for b in bold(text) - own if re.search(r"\d", b)}
    for other in REGIONS.by_code.values():
        for line in other.lines:
            if other.code != code and not bold(line.text[locale]) <= own:
                assert line.text[locale] not in text


@pytest.mark.parametrize("locale", RENDERER.locales)
def test_an_unknown_region_gets_the_card_that_works_anywhere(locale: str) -> None:
    assert card("XX", locale=locale) == card("OTHER", locale=locale) == card(None, locale=locale)
    assert "findahelpline.com" in card(None, locale=locale)


def test_in_hours_the_team_is_notified_and_reviews_within_the_hours() -> None:
    text = card(urgent=True)
    notified = "Your care team has been notified and will review this by <b>"
    assert notified + "Tue 2026-01-13 14:00" in text
    assert "no one is watching" not in text
    assert "Your care team's hours: Mon–Fri, 09:00–17:00 (New York time)." in text
    assert "not watched around the clock" in text
    assert "cannot give medical advice" in text


def test_at_3am_on_a_sunday_no_one_is_watching_and_no_review_is_promised_before_monday() -> None:
    text = card(now=SUNDAY_3AM, urgent=True)
    assert "<b>no one is watching right now</b>" in text
    assert "they are back Mon 2026-01-12 09:00" in text
    assert "will review it by Mon 2026-01-12 12:00" in text
    assert "07:00" not in text  # the old card's "now + 4 h"
    assert "Your care team's hours: Mon–Fri, 09:00–17:00 (New York time)." in text
    assert "If you need help now, use the numbers in this message." in text


@pytest.mark.parametrize(
    ("now", "watching", "back"),
    [
        (datetime(2026, 1, 13, 8, 59, tzinfo=NY), False, "Tue 2026-01-13 09:00"),
        (datetime(2026, 1, 13, 9, 0, tzinfo=NY), True, None),  # start is inside
        (datetime(2026, 1, 13, 16, 59, tzinfo=NY), True, None),
        (datetime(2026, 1, 13, 17, 0, tzinfo=NY), False, "Wed 2026-01-14 09:00"),  # end is not
        (datetime(2026, 1, 16, 17, 0, tzinfo=NY), False, "Mon 2026-01-19 09:00"),  # Friday
    ],
)
def test_the_hours_boundaries(now: datetime, watching: bool, back: str | None) -> None:
    text = card(now=now, urgent=True)
    assert ("no one is watching right now" not in text) is watching
    if back is not None:
        assert f"they are back {back}" in text


def test_a_review_late_in_the_day_carries_into_the_next_days_hours() -> None:
    text = card(now=datetime(2026, 1, 13, 16, 0, tzinfo=NY), urgent=True)
    assert "will review this by <b>Wed 2026-01-14 12:00" in text  # 1 h today, 3 h tomorrow


def test_around_the_clock() -> None:
    text = card(coverage="24/7", now=SUNDAY_3AM, urgent=True)
    notified = "Your care team has been notified and will review this by <b>"
    assert notified + "Sun 2026-01-11 07:00" in text
    assert "Your care team watches for alerts at all hours." in text
    assert "no one is watching" not in text and "not watched around the clock" not in text


def test_unknown_hours_promise_nothing() -> None:
    text = card(coverage=None, urgent=True)
    assert "may not see it right away" in text
    assert "review" not in text and "hours" not in text


def test_nothing_about_a_team_when_none_was_told() -> None:
    for coverage in (WEEKDAYS, "24/7", None):
        text = card(coverage=coverage, now=SUNDAY_3AM, team_notified=False, urgent=True)
        assert "notified" not in text and "sent an alert" not in text and "review" not in text


def test_times_in_another_zone_than_the_hours_are_marked_as_the_patients() -> None:
    text = card("ES", locale="es", zone=MADRID, urgent=True)
    assert "antes del <b>mar 2026-01-13 20:00 (su hora)</b>" in text
    assert "Horario de su equipo de atención: lun–vie, 09:00–17:00 (hora de New York)." in text


@pytest.mark.parametrize("locale", RENDERER.locales)
def test_the_short_card(locale: str) -> None:
    short = card("UK", kind="crisis_card_short", locale=locale, urgent=True)
    full = card("UK", locale=locale, urgent=True)
    assert {"999", "116 123"} <= bold(short) and "85258" not in short  # the first line only
    assert "2026-01-13 14:00" in short
    assert len(short) < len(full)


@pytest.mark.parametrize("locale", RENDERER.locales)
def test_the_emergency_card_has_the_emergency_number_only(locale: str) -> None:
    text = card("MX", kind="emergency_card", locale=locale, now=SUNDAY_3AM)
    assert "911" in text and "800 911 2000" not in text
    assert "2026-01-12 09:00" in text  # when the team is back


def test_patient_region_stored_then_zone_then_cohort() -> None:
    assert patient_region(REGIONS, "MX", "Europe/Madrid", "US") == "MX"
    assert patient_region(REGIONS, None, "Europe/Madrid", "US") == "ES"
    assert patient_region(REGIONS, None, "UTC", "UK") == "UK"
    assert patient_region(REGIONS, None, "Asia/Tokyo", "US") == "OTHER"


def test_day_runs() -> None:
    assert day_runs(frozenset({0, 1, 2, 3, 4})) == ((0, 4),)
    assert day_runs(frozenset({0, 2, 3, 6})) == ((0, 0), (2, 3), (6, 6))


ZONES = st.sampled_from(["America/New_York", "Europe/Madrid", "Australia/Lord_Howe", "UTC"])


@st.composite
def coverages(draw: st.DrawFn) -> Coverage:
    days = draw(st.frozensets(st.integers(0, 6), min_size=1))
    start = draw(st.integers(0, 22 * 60))
    end = draw(st.integers(start + 30, 23 * 60 + 59))
    return Coverage(
        days,
        time(start // 60, start % 60),
        time(end // 60, end % 60),
        ZoneInfo(draw(ZONES)),
    )


def _inside(coverage: Coverage, instant: datetime) -> bool:
    """Inside the hours, the end included (a review due as the day ends is on time)."""
    return coverage.covers(instant) or coverage.covers(instant - timedelta(minutes=1))


@given(
    coverage=coverages(),
    now=st.datetimes(datetime(2026, 1, 1), datetime(2027, 12, 31), timezones=st.just(UTC)),
)
def test_a_stated_time_always_falls_inside_the_hours(coverage: Coverage, now: datetime) -> None:
    hours = team_hours(coverage, now)
    due = review_time(coverage, now)
    assert due is not None and due > now and _inside(coverage, due)
    if hours.watching:
        assert hours.back_at is None
    else:
        assert hours.back_at is not None and coverage.covers(hours.back_at)
        assert hours.back_at == next_start(coverage, now) > now
        assert due >= hours.back_at
