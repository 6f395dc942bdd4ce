"""Optional items (docs/clinical.md §1.2, "optional items"): which ones a patient has turned
on, and which are asked on a given day.

- ``bp``: home blood pressure, typed as numbers, every day and after every scheduled dose;
- ``substance``: substance use, weekly on the cohort's instrument weekday (with the PHQ-9 and
  GAD-7); ``substance_daily``: the same every day, for patients a provider chooses;
- ``bladder``: the bladder screen, monthly: on the first instrument weekday of each month.

A patient's own setting (set by a provider with ``/optional``) wins; without one, the
cohort's ``optional_items`` apply.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date

BP = "bp"
SUBSTANCE = "substance"
SUBSTANCE_DAILY = "substance_daily"
BLADDER = "bladder"
ITEMS = (BP, SUBSTANCE, SUBSTANCE_DAILY, BLADDER)
"""Every optional item, in the order they are asked."""
QUESTION_ITEMS = {
    BP: "bp",
    SUBSTANCE: "substance",
    SUBSTANCE_DAILY: "substance",
    BLADDER: "bladder",
}
"""The questionnaire item (``prompts/questionnaires/optional_items.yaml``) each one asks."""
_WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


def parse_items(stored: str | None) -> frozenset[str] | None:
    """Read ``patients.optional_items``: None (the cohort's default) or the items turned on."""
    if stored is None:
        return None
    return frozenset(name for name in stored.split(",") if name in ITEMS)


def store_items(items: Iterable[str]) -> str:
    """Write a set of optional items as stored (item order, comma separated)."""
    chosen = set(items)
    return ",".join(name for name in ITEMS if name in chosen)


def enabled_items(own: str | None, cohort_default: Iterable[str]) -> frozenset[str]:
    """Return the optional items turned on for a patient."""
    parsed = parse_items(own)
    return frozenset(cohort_default) if parsed is None else parsed


def items_due(enabled: frozenset[str], day: date, instrument_weekday: str) -> tuple[str, ...]:
    """Return the questionnaire items of the optional check asked on ``day``, in order."""
    weekly_day = day.weekday() == _WEEKDAYS.index(instrument_weekday)
    due: list[str] = []
    if BP in enabled:
        due.append(QUESTION_ITEMS[BP])
    if SUBSTANCE_DAILY in enabled or (SUBSTANCE in enabled and weekly_day):
        due.append(QUESTION_ITEMS[SUBSTANCE])
    if BLADDER in enabled and weekly_day and day.day <= 7:
        due.append(QUESTION_ITEMS[BLADDER])
    return tuple(due)
