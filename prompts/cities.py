"""Loading the city table (``prompts/cities.tsv``; built by ``scripts/build_cities.py`` from
GeoNames data, CC BY 4.0: docs/cities.md)."""

from __future__ import annotations

import functools
from pathlib import Path

from bot.domain.cities import City, CityTable

CITIES = Path(__file__).with_name("cities.tsv")
_COLUMNS = 6


class CitiesError(ValueError):
    """A city table that cannot be used."""


def parse_cities(text: str, where: str = "cities.tsv") -> CityTable:
    """Parse the table's text; raise CitiesError naming the line at fault."""
    entries = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line or line.startswith("#"):
            continue
        fields = line.split("\t")
        if len(fields) != _COLUMNS or not fields[4].isdigit() or not fields[0] or not fields[3]:
            raise CitiesError(f"{where}: line {number}: needs {_COLUMNS} tab-separated fields")
        name, country, state, zone, population, others = fields
        city = City(name, country, state, zone, int(population))
        entries.append((city, [o for o in others.split("|") if o]))
    return CityTable(entries)


@functools.cache
def load_cities(path: Path = CITIES) -> CityTable:
    """Load the shipped table once (about 34,000 cities)."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise CitiesError(f"{path}: cannot be read: {exc}") from exc
    return parse_cities(text, str(path))
