"""Reading a city a patient types into the IANA time zones it may mean.

The table (``prompts/cities.tsv``, built from GeoNames data by ``scripts/build_cities.py``;
docs/cities.md) is loaded by ``prompts.cities`` and handed in, so the lookup stays pure.
Accents, case, spaces, dashes and apostrophes are ignored ("medellin", "MEDELLÍN",
"Medellín"), "Saint"/"St." are the same word, and a big city's other names ("Nueva York",
"Londres") are found too. This only maps a city to a zone; what a zone means for a
patient's crisis lines is decided elsewhere.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass

# Latin letters that NFKD does not split into a base letter and an accent.
_PLAIN = str.maketrans(
    {"ø": "o", "æ": "ae", "œ": "oe", "ł": "l", "đ": "d", "ð": "d", "þ": "th", "\u0131": "i"}
)
_SEPARATORS = re.compile(r"[\W_]+")
# Abbreviations people write either way: "St. Louis" / "Saint Louis", "Mt." / "Mount".
_SAME_WORD = {"saint": "st", "sainte": "ste", "mount": "mt", "fort": "ft"}
MAX_INPUT = 64
"""Longer text is not a city name (and is never looked up)."""


def fold(text: str) -> str:
    """Return the lookup key of a name: no accents, case, spaces or punctuation."""
    bare = text.casefold()
    if not bare.isascii():  # most names are plain ASCII: no need to decompose them
        decomposed = unicodedata.normalize("NFKD", bare)
        bare = "".join(c for c in decomposed if not unicodedata.combining(c)).translate(_PLAIN)
    words = [w for w in _SEPARATORS.split(bare) if w]
    return "".join(_SAME_WORD.get(w, w) for w in words)


@dataclass(frozen=True, slots=True)
class City:
    """One city of the table."""

    name: str
    country: str
    """ISO 3166-1 alpha-2 code."""
    state: str
    """US state code, else empty."""
    zone: str
    population: int

    def label(self) -> str:
        """Return the city as a button shows it: name, US state, flag and country code
        ("Córdoba 🇦🇷 AR", "Portland, OR 🇺🇸 US"); no words to translate."""
        name = f"{self.name}, {self.state}" if self.state else self.name
        return f"{name} {flag(self.country)} {self.country}".strip()


def flag(country: str) -> str:
    """Return a country's flag emoji from its two-letter code (empty if not two letters)."""
    if len(country) != 2 or not country.isascii() or not country.isalpha():
        return ""
    return "".join(chr(0x1F1E6 + ord(c) - ord("A")) for c in country.upper())


class CityTable:
    """Cities by lookup key, biggest first."""

    def __init__(self, entries: Iterable[tuple[City, Iterable[str]]]) -> None:
        """Index cities under their name and their other names (``entries``: each city with
        its other names)."""
        by_key: dict[str, list[City]] = {}
        for city, others in entries:
            for name in (city.name, *others):
                key = fold(name)
                if key and city not in by_key.setdefault(key, []):
                    by_key[key].append(city)
        self._by_key = {
            key: tuple(sorted(cities, key=lambda c: -c.population))
            for key, cities in by_key.items()
        }

    def __len__(self) -> int:
        return len(self._by_key)

    def find(self, text: str) -> tuple[City, ...]:
        """Return the cities a typed name may mean, biggest first (empty when none)."""
        if len(text) > MAX_INPUT:
            return ()
        key = fold(text)
        return self._by_key.get(key, ()) if key else ()


def zones_of(cities: Iterable[City]) -> list[City]:
    """Return one city per zone (the biggest, as given first), in the order given: two
    cities of one name in the same zone need no choice."""
    seen: set[str] = set()
    kept = []
    for city in cities:
        if city.zone not in seen:
            seen.add(city.zone)
            kept.append(city)
    return kept
