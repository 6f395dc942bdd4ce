"""Typed time zones and times: cities, IANA names, ambiguity and bad input."""

from __future__ import annotations

import zoneinfo
from datetime import time

import pytest

from bot.domain.timezones import (
    find_zone,
    looks_like_setting_input,
    parse_time_of_day,
)

ZONES = frozenset(zoneinfo.available_timezones())


@pytest.mark.parametrize(
    ("typed", "zone"),
    [
        ("new york", "America/New_York"),
        ("  New   York ", "America/New_York"),
        ("NEW_YORK", "America/New_York"),
        ("kolkata", "Asia/Kolkata"),
        ("são paulo", "America/Sao_Paulo"),
        ("Sao Paulo", "America/Sao_Paulo"),
        ("europe/london", "Europe/London"),
        ("America/Argentina/Buenos_Aires", "America/Argentina/Buenos_Aires"),
        ("UTC", "UTC"),
        ("port-au-prince", "America/Port-au-Prince"),
    ],
)
def test_cities_and_names(typed: str, zone: str) -> None:
    assert find_zone(typed, ZONES).zone == zone


def test_ambiguous_cities_offer_every_match() -> None:
    match = find_zone("nicosia", ZONES)
    assert match.zone is None
    assert set(match.zones) == {"Asia/Nicosia", "Europe/Nicosia"}


@pytest.mark.parametrize("typed", ["", "   ", "Atlantis", "eastern", "x" * 500, "<b>", "12:00"])
def test_unknown_input(typed: str) -> None:
    assert find_zone(typed, ZONES).zones == ()


def test_legacy_aliases_are_not_cities() -> None:
    assert find_zone("eastern", ZONES).zones == ()  # US/Eastern is not a city
    assert find_zone("us/eastern", ZONES).zone == "US/Eastern"  # the full name still is


@pytest.mark.parametrize(
    ("typed", "expected"),
    [("9:30", time(9, 30)), ("09:30", time(9, 30)), ("21.15", time(21, 15)), (" 00:00 ", time())],
)
def test_times(typed: str, expected: time) -> None:
    assert parse_time_of_day(typed) == expected


@pytest.mark.parametrize("typed", ["24:00", "9", "9:5:1", "nine", "٠٩:٣٠", "-1:00", ""])
def test_bad_times(typed: str) -> None:
    assert parse_time_of_day(typed) is None


def test_what_looks_like_an_answer() -> None:
    assert looks_like_setting_input("new york")
    assert looks_like_setting_input("21:15")
    assert not looks_like_setting_input("I feel awful today and cannot sleep at all")
    assert not looks_like_setting_input("")
