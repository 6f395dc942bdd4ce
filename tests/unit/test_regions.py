"""The crisis card's regions: the shipped file, its start-up checks, and time zone -> region."""

from __future__ import annotations

import re
import zoneinfo
from pathlib import Path

import pytest
import yaml
from hypothesis import given
from hypothesis import strategies as st

from bot.domain.regions import FALLBACK, PLACELESS_ZONES
from prompts.regions import REGIONS, REQUIRED, RegionsError, load_regions
from prompts.render import Renderer

LOCALES = Renderer().locales
SHIPPED = load_regions(LOCALES)
ALL_ZONES = sorted(zoneinfo.available_timezones())


@pytest.mark.parametrize(
    ("zone", "region"),
    [
        ("America/Mexico_City", "MX"),
        ("America/Tijuana", "MX"),
        ("Europe/Madrid", "ES"),
        ("Atlantic/Canary", "ES"),
        ("Europe/Dublin", "IE"),
        ("Europe/London", "UK"),
        ("Europe/Belfast", "UK"),
        ("Europe/Paris", "EU"),
        ("Europe/Berlin", "EU"),
        ("Europe/Lisbon", "EU"),
        ("America/Puerto_Rico", "PR"),
        ("America/New_York", "US"),
        ("US/Eastern", "US"),
        ("Pacific/Honolulu", "US"),
        ("America/Toronto", "CA"),
        ("America/St_Johns", "CA"),
        ("America/Bogota", "CO"),
        ("America/Lima", "PE"),
        ("America/Santiago", "CL"),
        ("America/Argentina/Buenos_Aires", "AR"),
        ("America/Buenos_Aires", "AR"),
        ("Asia/Tokyo", "OTHER"),  # a place with no card of its own: never the cohort's 911
        ("Europe/Oslo", "OTHER"),  # not in the EU
        ("Europe/Zurich", "OTHER"),
    ],
)
def test_zone_to_region(zone: str, region: str) -> None:
    assert SHIPPED.for_zone(zone, "US") == region


@pytest.mark.parametrize("zone", ["UTC", "Etc/GMT+5", "Etc/UTC", "GMT", "EST5EDT", "", None])
def test_a_zone_that_names_no_place_gives_the_cohorts_region(zone: str | None) -> None:
    assert SHIPPED.for_zone(zone, "UK") == "UK"
    assert SHIPPED.for_zone(zone, "gb") == "UK"  # the cohort file's alias
    assert SHIPPED.for_zone(zone, "XX") == FALLBACK  # an unknown fallback: the card for anywhere


@given(zone=st.sampled_from(ALL_ZONES), fallback=st.sampled_from([*SHIPPED.codes, "XX"]))
def test_every_iana_zone_gets_a_known_region(zone: str, fallback: str) -> None:
    region = SHIPPED.for_zone(zone, fallback)
    assert region in SHIPPED.by_code
    if zone in PLACELESS_ZONES or zone.startswith("Etc/"):
        assert region == SHIPPED.get(fallback).code
    else:
        assert region == FALLBACK or zone in SHIPPED.by_code[region].zones


def test_every_listed_zone_exists() -> None:
    listed = {zone for region in SHIPPED.by_code.values() for zone in region.zones}
    assert listed <= set(ALL_ZONES), sorted(listed - set(ALL_ZONES))


def test_the_shipped_file_covers_every_required_region_in_every_locale() -> None:
    assert set(REQUIRED) <= set(SHIPPED.by_code)
    for region in SHIPPED.by_code.values():
        for line in (region.emergency, *region.lines):
            assert set(LOCALES) <= set(line.text), region.code
            assert line.sources and not line.confidence.startswith("low")
        assert set(LOCALES) <= set(region.name)


# Numbers the research found unconfirmed or outdated (docs/crisis-lines.md): never shown.
NEVER = [
    "345 1435",  # Argentina, unconfirmed
    "333-1665",  # Argentina CABA, one source
    "5259 8121",  # Mexico SAPTEL, unconfirmed
    "290 0024",
    "5658 1111",  # Mexico LOCATEL, one source
    "672-7622",  # Puerto Rico TDD, one source
    "164 0123",  # Samaritans Welsh line, one source
    "456-4566",  # Canada, superseded by 988
    "45645",
    "086 1800 280",  # Ireland, old
    "press 3",  # US 988 option 3, ended 2025-07-17
    "192",  # Colombia 192 option 4, no source after 2021
    "iasp.info",  # low confidence
    "273-8255",  # US legacy number: no confirmation after 2022
]


def test_no_unconfirmed_or_outdated_number_is_shipped() -> None:
    shown = [
        text.lower()
        for region in SHIPPED.by_code.values()
        for line in (region.emergency, *region.lines)
        for text in line.text.values()
    ]
    for needle in NEVER:
        assert not [text for text in shown if needle in text], needle


def _write(tmp_path: Path, change: dict[str, object] | None = None, drop: str = "") -> Path:
    raw = yaml.safe_load(REGIONS.read_text(encoding="utf-8"))
    if drop:
        del raw["regions"][drop]
    for dotted, value in (change or {}).items():
        node = raw["regions"]
        *parents, last = dotted.split(".")
        for part in parents:
            node = node[int(part)] if part.isdigit() else node[part]
        if value is None:
            del node[last]
        else:
            node[last] = value
    path = tmp_path / "regions.yaml"
    path.write_text(yaml.safe_dump(raw, allow_unicode=True), encoding="utf-8")
    return path


@pytest.mark.parametrize(
    ("drop", "change", "message"),
    [
        ("PE", None, "lacks regions PE"),
        ("", {"ES.emergency": None}, "region 'ES', field 'emergency': every region needs"),
        ("", {"ES.emergency.text.es": None}, "region 'ES', field 'emergency', field 'text'"),
        ("", {"MX.lines.0.text.en": None}, "region 'MX', field 'lines.0', field 'text': no text"),
        ("", {"IE.lines.1.confidence": "low"}, "field 'lines.1', field 'confidence': 'low'"),
        ("", {"IE.lines.1.confidence": "unconfirmed"}, "'unconfirmed' is not high or medium"),
        ("", {"US.lines.0.sources": []}, "field 'sources': every number needs its sources"),
        ("", {"UK.lines.0.text.en": "Call <i>116 123</i>"}, "only <b>...</b> markup"),
        ("", {"UK.lines.0.text.en": "Samaritans & co"}, "written &amp;"),
        ("", {"UK.zones": ["Europe/London", "Europe/Madrid"]}, "Europe/Madrid is also in"),
        ("", {"CO.lines": []}, "region 'CO', field 'lines': must be a non-empty list"),
        ("", {"CO.phone": "123"}, "region 'CO': unknown fields"),
    ],
)
def test_a_bad_regions_file_stops_the_start_with_one_line(
    tmp_path: Path, drop: str, change: dict[str, object] | None, message: str
) -> None:
    path = _write(tmp_path, change, drop)
    with pytest.raises(RegionsError) as raised:
        load_regions(LOCALES, path)
    text = str(raised.value)
    assert "\n" not in text and str(path) in text
    assert re.search(re.escape(message), text), text


def test_a_locale_without_wording_is_refused() -> None:
    with pytest.raises(RegionsError, match="no text for locale 'fr'"):
        load_regions([*LOCALES, "fr"])
