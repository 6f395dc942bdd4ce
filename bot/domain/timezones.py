"""Reading what a patient types when asked for a time zone or a check-in time.

Pure: the set of known zone names is passed in (``zoneinfo.available_timezones()`` in
production), so these rules are tested without the tz database's quirks.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import time

from bot.domain.cities import CityTable, fold, zones_of
from bot.domain.schedule import parse_hhmm

# Cities are looked up only under these areas: "US/Eastern", "Etc/GMT+5" and the like are
# legacy aliases whose last part is not a city (typing the full name still works).
_CITY_AREAS = frozenset(
    {
        "Africa",
        "America",
        "Antarctica",
        "Asia",
        "Atlantic",
        "Australia",
        "Europe",
        "Indian",
        "Pacific",
    }
)
MAX_CANDIDATES = 8
"""How many zones an ambiguous city may offer as buttons."""


@dataclass(frozen=True, slots=True)
class ZoneMatch:
    """What typed text names: one zone, several (ambiguous), or none (``zones`` empty)."""

    zones: tuple[str, ...]
    labels: tuple[str, ...] = ()
    """How to offer each zone as a button when there are several ("Córdoba 🇦🇷 AR"); empty:
    by the zone's own city."""

    @property
    def zone(self) -> str | None:
        """Return the zone when exactly one matched."""
        return self.zones[0] if len(self.zones) == 1 else None

    def choices(self) -> tuple[tuple[str, str], ...]:
        """Return (button label, zone) for each zone matched."""
        labels = self.labels or tuple(city_of(zone) for zone in self.zones)
        return tuple(zip(labels, self.zones, strict=True))


def _key(text: str) -> str:
    """Fold a city or zone name: "New_York", "new york" and "NEW-YORK" give the same key."""
    return fold(text)


def city_of(zone: str) -> str:
    """Return a zone's city as people write it: ``America/New_York`` -> ``New York``."""
    return zone.rsplit("/", 1)[-1].replace("_", " ")


def find_zone(text: str, available: Collection[str], cities: CityTable | None = None) -> ZoneMatch:
    """Match typed text against IANA zone names, then against cities.

    A full IANA name matches case-insensitively ("europe/london"). Otherwise the text is
    looked up, ignoring case, accents, spaces, dashes and underscores, in the city table
    (``cities``: "Houston", "medellin", "Nueva York") and among the cities IANA names its
    zones after ("Kolkata"). Cities of one name in several zones ("Córdoba": Argentina,
    Spain, Mexico) come back as several zones, biggest city first, each labelled with its
    country, for the patient to choose: a wrong zone would move every check-in.
    """
    cleaned = " ".join(text.split())
    if not cleaned or len(cleaned) > 64:
        return ZoneMatch(())
    lowered = cleaned.casefold().replace(" ", "_")
    exact = sorted(zone for zone in available if zone.casefold() == lowered)
    if exact:
        return ZoneMatch((exact[0],))
    key = _key(cleaned)
    if not key:
        return ZoneMatch(())
    matched = cities.find(cleaned) if cities is not None else ()
    found = [city for city in zones_of(matched) if city.zone in available]
    zones = [city.zone for city in found]
    labels = [city.label() for city in found]
    # IANA's own city names only when the table knows none: it covers every zone's city
    # of 15,000 people or more, and the rest would add legacy aliases (America/Buenos_Aires
    # beside America/Argentina/Buenos_Aires) as if they were other places.
    for zone in () if found else sorted(available):
        city = _key(city_of(zone))
        if zone.split("/", 1)[0] in _CITY_AREAS and city == key and zone not in zones:
            zones.append(zone)
            labels.append(city_of(zone))
    zones, labels = zones[:MAX_CANDIDATES], labels[:MAX_CANDIDATES]
    if len(set(labels)) < len(labels):  # "Springfield, OH" twice: tell them apart by zone
        labels = [f"{label} ({city_of(zone)})" for label, zone in zip(labels, zones, strict=True)]
    return ZoneMatch(tuple(zones), tuple(labels) if len(zones) > 1 else ())


def parse_time_of_day(text: str) -> time | None:
    """Return the 24-hour ``HH:MM`` time typed ("9:30", "09:30", "21.15"), or None."""
    try:
        return parse_hhmm(text.strip().replace(".", ":"))
    except ValueError:
        return None


def looks_like_setting_input(text: str) -> bool:
    """Tell whether text could be an attempt at a zone or a time rather than a message.

    A patient asked for a time zone may write something else entirely ("I feel awful
    today"); such text must reach the care team as a message, not be refused as a bad zone.
    """
    words = text.split()
    return 0 < len(words) <= 4 and len(text.strip()) <= 40
