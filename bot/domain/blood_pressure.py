"""A home blood-pressure reading as a patient types it ("145/92", "145 92").

Plausible ranges refuse typing slips (a missing digit, the pulse typed instead) before any
rule sees the numbers; they are not clinical thresholds. The thresholds that raise alerts
are data in ``prompts/rules.yaml`` (docs/clinical.md §1.2, home BP).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

SYSTOLIC_RANGE = (60, 300)
DIASTOLIC_RANGE = (30, 200)
"""Readings outside these are taken for typing mistakes and asked again (mmHg)."""
_READING = re.compile(r"\s*(\d{2,3})\s*(?:/|\s|-|\\)\s*(\d{2,3})\s*(?:mm\s*hg)?\s*", re.I)


@dataclass(frozen=True, slots=True)
class Reading:
    """Systolic over diastolic, in mmHg."""

    systolic: int
    diastolic: int

    @property
    def stored(self) -> str:
        """The reading as stored and shown: ``145/92``."""
        return f"{self.systolic}/{self.diastolic}"


def parse_reading(text: str) -> Reading | None:
    """Return the reading a text holds, or None when it is not one plausible reading.

    Two numbers separated by a slash, a space or a dash (``mmHg`` may follow); systolic
    first and higher than diastolic, each within its plausible range.
    """
    match = _READING.fullmatch(text) if text.isascii() else None
    if match is None:
        return None
    systolic, diastolic = int(match.group(1)), int(match.group(2))
    if not SYSTOLIC_RANGE[0] <= systolic <= SYSTOLIC_RANGE[1]:
        return None
    if not DIASTOLIC_RANGE[0] <= diastolic <= DIASTOLIC_RANGE[1]:
        return None
    if diastolic >= systolic:
        return None
    return Reading(systolic, diastolic)


def stored_reading(value: str) -> Reading | None:
    """Read back a stored ``145/92`` (None for anything else, e.g. "no reading")."""
    return parse_reading(value) if "/" in value else None
