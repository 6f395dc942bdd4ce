"""Where a patient is, for the crisis card: regions, their lines, and time zone -> region.

Pure: the region data is loaded from ``prompts/regions.yaml`` (by ``prompts.regions``) and
handed in; nothing here reads a file. ``docs/crisis-lines.md`` says where every number comes
from and how the region is chosen.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

FALLBACK = "OTHER"
"""The region whose card fits anywhere: the local emergency number and findahelpline.com."""

PLACELESS_ZONES = frozenset(
    {
        "UTC",
        "UCT",
        "GMT",
        "GMT0",
        "GMT+0",
        "GMT-0",
        "Greenwich",
        "Universal",
        "Zulu",
        "Factory",
        "localtime",
        "CET",
        "EET",
        "MET",
        "WET",
        "EST",
        "MST",
        "HST",
        "EST5EDT",
        "CST6CDT",
        "MST7MDT",
        "PST8PDT",
    }
)
"""Zone names that say nothing about where someone is (offsets and rule names, not places);
``Etc/...`` zones are placeless too. For these the cohort's region is used."""

ALIASES = {"GB": "UK"}
"""Region codes accepted in a cohort file for another (ISO's GB is the card's UK)."""


@dataclass(frozen=True, slots=True)
class Line:
    """One number (or address) on the card, with its wording per locale.

    ``text`` is reviewed HTML (only ``<b>`` and entities), one bullet of the card.
    """

    text: Mapping[str, str]
    sources: tuple[str, ...]
    confidence: str


@dataclass(frozen=True, slots=True)
class Region:
    """A region's card: its name, the emergency bullet, then the lines to call or text."""

    code: str
    name: Mapping[str, str]
    emergency: Line
    lines: tuple[Line, ...]
    zones: frozenset[str]


@dataclass(frozen=True, slots=True)
class Regions:
    """Every region the card knows, and which zones fall in which."""

    by_code: Mapping[str, Region]

    def __post_init__(self) -> None:
        if FALLBACK not in self.by_code:
            raise ValueError(f"the regions must include {FALLBACK}")

    @property
    def codes(self) -> tuple[str, ...]:
        """Return the region codes, OTHER last (the order /settings offers them)."""
        return (*sorted(c for c in self.by_code if c != FALLBACK), FALLBACK)

    def get(self, code: str | None) -> Region:
        """Return a region by code; an unknown or missing code gets the fallback card."""
        code = (code or "").upper()
        code = ALIASES.get(code, code)
        return self.by_code.get(code) or self.by_code[FALLBACK]

    def for_zone(self, zone: str | None, fallback: str) -> str:
        """Return the region of someone in an IANA time zone.

        A zone listed under a region gives that region; a zone that names no place (UTC,
        ``Etc/GMT+5``, ``EST5EDT``) or is unknown gives ``fallback`` (the cohort's region);
        any other place gives OTHER, whose card works anywhere (a US cohort's patient in
        Tokyo must not be told to call 911).
        """
        fallback = self.get(fallback).code
        if not zone:
            return fallback
        for region in self.by_code.values():
            if zone in region.zones:
                return region.code
        if zone in PLACELESS_ZONES or zone.startswith("Etc/"):
            return fallback
        return FALLBACK
