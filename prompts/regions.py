"""Loading the crisis card's regions from ``prompts/regions.yaml``, checked at start-up.

A region without an emergency number, a bullet missing a locale the templates have, a line
of low or unconfirmed confidence, a bullet without sources, or markup Telegram would refuse
stops the start with one line naming the file, region and field.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import yaml

from bot.domain.regions import FALLBACK, Line, Region, Regions

REGIONS = Path(__file__).with_name("regions.yaml")
REQUIRED = ("US", "CA", "MX", "ES", "UK", "IE", "EU", "AR", "CO", "CL", "PE", "PR", FALLBACK)
"""Regions the card must cover (issue 12): a file without one of them is refused."""
_CONFIDENT = re.compile(r"^(high|medium|medium-high)\b")
"""Confidence levels a bullet may have; "low" and "unconfirmed" are never shown."""
_TAG = re.compile(r"</?b>")
_ENTITY = re.compile(r"&(amp|lt|gt|quot);")


class RegionsError(ValueError):
    """A regions file that cannot be used."""


def load_regions(locales: Iterable[str], path: Path = REGIONS) -> Regions:
    """Load and check the regions file for the locales the templates have."""
    locales = tuple(locales)
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise RegionsError(f"regions file {path}: {exc}") from None
    entries = raw.get("regions") if isinstance(raw, dict) else None
    if not isinstance(entries, dict) or not entries:
        raise RegionsError(f"regions file {path}: needs a 'regions' mapping")
    missing = [code for code in REQUIRED if code not in entries]
    if missing:
        raise RegionsError(f"regions file {path}: lacks regions {', '.join(missing)}")
    regions: dict[str, Region] = {}
    seen: dict[str, str] = {}
    for code, entry in entries.items():
        where = f"regions file {path}: region {code!r}"
        region = _region(str(code), entry, locales, where)
        for zone in region.zones:
            if zone in seen:
                raise RegionsError(f"{where}, field 'zones': {zone} is also in {seen[zone]}")
            seen[zone] = region.code
        regions[region.code] = region
    return Regions(regions)


def _region(code: str, raw: Any, locales: tuple[str, ...], where: str) -> Region:
    if not isinstance(raw, dict):
        raise RegionsError(f"{where}: must be a mapping")
    unknown = set(raw) - {"name", "zones", "emergency", "lines"}
    if unknown:
        raise RegionsError(f"{where}: unknown fields {sorted(unknown)}")
    if "emergency" not in raw:
        raise RegionsError(f"{where}, field 'emergency': every region needs an emergency number")
    lines = raw.get("lines")
    if not isinstance(lines, list) or not lines:
        raise RegionsError(f"{where}, field 'lines': must be a non-empty list")
    zones = raw.get("zones")
    if not isinstance(zones, list) or not all(isinstance(z, str) for z in zones):
        raise RegionsError(f"{where}, field 'zones': must be a list of IANA zone names")
    return Region(
        code=code,
        name=_texts(raw.get("name"), locales, f"{where}, field 'name'"),
        emergency=_line(raw["emergency"], locales, f"{where}, field 'emergency'"),
        lines=tuple(
            _line(line, locales, f"{where}, field 'lines.{i}'") for i, line in enumerate(lines)
        ),
        zones=frozenset(zones),
    )


def _line(raw: Any, locales: tuple[str, ...], where: str) -> Line:
    if not isinstance(raw, dict):
        raise RegionsError(f"{where}: must be a mapping")
    unknown = set(raw) - {"text", "sources", "confidence"}
    if unknown:
        raise RegionsError(f"{where}: unknown fields {sorted(unknown)}")
    sources = raw.get("sources")
    if not isinstance(sources, list) or not all(isinstance(s, str) and s for s in sources):
        raise RegionsError(f"{where}, field 'sources': must be a list of sources")
    if not sources:
        raise RegionsError(f"{where}, field 'sources': every number needs its sources")
    confidence = str(raw.get("confidence", ""))
    if not _CONFIDENT.match(confidence):
        raise RegionsError(
            f"{where}, field 'confidence': {confidence!r} is not high or medium "
            "(low and unconfirmed lines are not shown)"
        )
    texts = _texts(raw.get("text"), locales, f"{where}, field 'text'")
    for locale, text in texts.items():
        bare = _ENTITY.sub("", _TAG.sub("", text))
        if any(ch in bare for ch in "<>&") or text.count("<b>") != text.count("</b>"):
            raise RegionsError(
                f"{where}, field 'text.{locale}': only <b>...</b> markup, & written &amp;"
            )
    return Line(text=texts, sources=tuple(sources), confidence=confidence)


def _texts(raw: Any, locales: tuple[str, ...], where: str) -> dict[str, str]:
    if not isinstance(raw, dict):
        raise RegionsError(f"{where}: must map each locale to its text")
    for locale in locales:
        value = raw.get(locale)
        if not isinstance(value, str) or not value.strip():
            raise RegionsError(f"{where}: no text for locale {locale!r}")
    return {str(k): str(v) for k, v in raw.items()}
