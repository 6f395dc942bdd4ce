"""Typed city names -> IANA zones through the shipped GeoNames table (prompts/cities.tsv)."""

from __future__ import annotations

import unicodedata
import zoneinfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.domain.cities import City, CityTable, flag, fold
from bot.domain.timezones import find_zone
from prompts.cities import CITIES, CitiesError, load_cities, parse_cities

ZONES = frozenset(zoneinfo.available_timezones())
TABLE = load_cities()


@pytest.mark.parametrize(
    ("typed", "zone"),
    [
        ("Miami", "America/New_York"),
        ("houston", "America/Chicago"),
        ("Medellín", "America/Bogota"),
        ("medellin", "America/Bogota"),
        ("MEDELLÍN", "America/Bogota"),
        ("Nueva York", "America/New_York"),  # a big city's name in another language
        ("Londres", "Europe/London"),
        ("ciudad de méxico", "America/Mexico_City"),
        ("Bogotá", "America/Bogota"),
        ("tromso", "Europe/Oslo"),  # ø has no accent to strip: folded on purpose
        ("Guadalajara", None),  # Mexico and Spain: a choice (checked below)
    ],
)
def test_cities_patients_name(typed: str, zone: str | None) -> None:
    match = find_zone(typed, ZONES, TABLE)
    assert match.zone == zone
    assert match.zones


def test_barcelona_and_cordoba_offer_each_country() -> None:
    barcelona = find_zone("Barcelona", ZONES, TABLE)
    assert barcelona.zone is None
    assert barcelona.choices()[:2] == (
        ("Barcelona 🇪🇸 ES", "Europe/Madrid"),  # the bigger one first
        ("Barcelona 🇻🇪 VE", "America/Caracas"),
    )
    cordoba = dict(find_zone("cordoba", ZONES, TABLE).choices())
    assert cordoba["Córdoba 🇦🇷 AR"] == "America/Argentina/Cordoba"
    assert cordoba["Córdoba 🇪🇸 ES"] == "Europe/Madrid"
    assert cordoba["Córdoba 🇲🇽 MX"] == "America/Mexico_City"


def test_one_name_in_one_zone_needs_no_choice() -> None:
    # Two San Josés in Costa Rica share a zone; the one in California does not.
    choices = find_zone("San José", ZONES, TABLE).choices()
    zones = [zone for _, zone in choices]
    assert len(zones) == len(set(zones))
    assert "America/Costa_Rica" in zones and "America/Los_Angeles" in zones


def test_same_label_in_two_zones_is_told_apart() -> None:
    table = CityTable(
        [
            (City("Twin", "US", "XX", "America/Chicago", 20_000), []),
            (City("Twin", "US", "XX", "America/Denver", 10_000), []),
        ]
    )
    labels = [label for label, _ in find_zone("twin", ZONES, table).choices()]
    assert labels == ["Twin, XX 🇺🇸 US (Chicago)", "Twin, XX 🇺🇸 US (Denver)"]


def test_zone_names_and_iana_cities_still_work_with_the_table() -> None:
    assert find_zone("europe/london", ZONES, TABLE).zone == "Europe/London"
    assert find_zone("Kolkata", ZONES, TABLE).zone == "Asia/Kolkata"
    assert find_zone("Xyzzyville", ZONES, TABLE).zones == ()
    assert find_zone("Atlantis", ZONES, TABLE).zone == "Africa/Johannesburg"  # it exists


def test_fold_and_flag() -> None:
    assert fold("  St. Louis ") == fold("saint-louis") == "stlouis"
    assert fold("São Paulo") == fold("SAO_PAULO") == "saopaulo"
    assert flag("es") == "🇪🇸" and flag("") == "" and flag("1X") == ""


def test_the_shipped_table_is_small_and_attributed() -> None:
    assert CITIES.stat().st_size < 2_000_000
    head = CITIES.read_text(encoding="utf-8")[:1000]
    assert "GeoNames" in head and "CC BY 4.0" in head
    assert len(TABLE) > 30_000


def test_a_broken_table_names_the_line() -> None:
    with pytest.raises(CitiesError, match="line 2"):
        parse_cities("# header\nMiami\tUS\n")


def _variants(text: str) -> list[str]:
    bare = "".join(c for c in unicodedata.normalize("NFKD", text) if not unicodedata.combining(c))
    return [text.upper(), text.lower(), bare, f"  {text} ", text.swapcase()]


NAMES = sorted({city.name for city in TABLE.find("cordoba")} | {"Medellín", "San José"})


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=80))
def test_any_text_is_answered_without_crashing(text: str) -> None:
    match = find_zone(text, ZONES, TABLE)
    assert all(zone in ZONES for zone in match.zones)
    assert len(match.zones) <= 8
    assert match.labels == () or len(match.labels) == len(match.zones)


@settings(max_examples=100, deadline=None)
@given(st.sampled_from(NAMES), st.integers(min_value=0, max_value=4))
def test_case_and_accents_do_not_change_the_answer(name: str, which: int) -> None:
    assert find_zone(_variants(name)[which], ZONES, TABLE) == find_zone(name, ZONES, TABLE)


@settings(max_examples=200, deadline=None)
@given(st.data())
def test_every_city_of_the_table_is_found_by_its_name(data: st.DataObject) -> None:
    key = data.draw(st.sampled_from(sorted(TABLE._by_key)))
    city = TABLE._by_key[key][0]
    match = find_zone(city.name, ZONES, TABLE)
    assert city.zone in match.zones or len(match.zones) == 8
