"""Reading what a patient types when asked for a time zone or a check-in time.

Pure: the set of known zone names is passed in (``zoneinfo.available_timezones()`` in
production), so these rules are tested without the tz database's quirks.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import time

from bot.domain.crisis_words import normalize
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

    @property
    def zone(self) -> str | None:
        """Return the zone when exactly one matched."""
        return self.zones[0] if len(self.zones) == 1 else None


def _key(text: str) -> str:
    """Fold a city or zone name: "New_York", "new york" and "NEW-YORK" give the same key."""
    return normalize(text.replace("_", " ")).replace(" ", "")


def city_of(zone: str) -> str:
    """Return a zone's city as people write it: ``America/New_York`` -> ``New York``."""
    return zone.rsplit("/", 1)[-1].replace("_", " ")


def find_zone(text: str, available: Collection[str]) -> ZoneMatch:
    """Match typed text against IANA zone names, then against their cities.

    A full IANA name matches case-insensitively ("europe/london"); otherwise the text is
    compared with the last part of each zone under a continent or ocean, ignoring case,
    accents, spaces, dashes and underscores ("new york", "são paulo", "Kolkata").
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
    found = sorted(
        zone
        for zone in available
        if zone.split("/", 1)[0] in _CITY_AREAS and _key(city_of(zone)) == key
    )
    return ZoneMatch(tuple(found[:MAX_CANDIDATES]))


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
