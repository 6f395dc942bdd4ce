"""Which validated instruments a patient's check-in carries on a given day.

PHQ-9 and GAD-7 come weekly on the cohort's weekday; PCL-5, where a cohort enables it, every
N weeks (its look-back is a month: docs/clinical.md §2.3), counted from the patient's first
instrument day so that the first one is a baseline. They are asked in the patient's usual
slot, after the daily items in the same message or (``instrument_delivery = "own_message"``)
in a message of their own once the daily part is done or skipped: one check-in row a day.

An instrument with no validated text in the patient's language is not asked of that patient
at all (:func:`not_asked`): a validated instrument asked in another language, or in an
unvalidated translation, is no longer the validated instrument. The digest counts them.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import date, timedelta

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
WEEKLY = ("phq9", "gad7")
PCL5 = "pcl5"


def first_instrument_day(enrolled_on: date, weekday: str) -> date:
    """Return the first instrument day on or after enrolment."""
    target = WEEKDAYS.index(weekday)
    return enrolled_on + timedelta(days=(target - enrolled_on.weekday()) % 7)


def instruments_due(
    day: date,
    *,
    weekday: str,
    weekly: tuple[str, ...],
    enrolled_on: date,
    pcl5_every_weeks: int | None,
    skip: Iterable[str] = (),
) -> tuple[str, ...]:
    """Return the instruments asked on ``day`` (in asking order), none on other days;
    ``skip``: those not asked of this patient (see :func:`not_asked`)."""
    if not weekly and pcl5_every_weeks is None:
        return ()
    if day.weekday() != WEEKDAYS.index(weekday) or day < enrolled_on:
        return ()
    due = tuple(name for name in WEEKLY if name in weekly)
    if pcl5_every_weeks is not None:
        weeks = (day - first_instrument_day(enrolled_on, weekday)).days // 7
        if weeks % pcl5_every_weeks == 0:
            due += (PCL5,)
    skipped = frozenset(skip)
    return tuple(name for name in due if name not in skipped)


def not_asked(
    enabled: Iterable[str], locale: str, untranslated: Mapping[str, frozenset[str]]
) -> tuple[str, ...]:
    """Return which of the enabled instruments are not asked of a patient who uses
    ``locale``: those with no validated translation in it (``untranslated``: instrument ->
    such locales, as the questionnaire files declare)."""
    return tuple(name for name in enabled if locale in untranslated.get(name, frozenset()))


def not_asked_counts(
    enabled: Iterable[str],
    patients_by_locale: Mapping[str, int],
    untranslated: Mapping[str, frozenset[str]],
) -> tuple[tuple[str, str, int], ...]:
    """Return (instrument, locale, patients) for every enabled instrument some patients are
    not asked because of their language, in instrument then locale order."""
    names = tuple(enabled)
    counts = [
        (name, locale, patients)
        for locale, patients in sorted(patients_by_locale.items())
        if patients > 0
        for name in not_asked(names, locale, untranslated)
    ]
    return tuple(sorted(counts, key=lambda row: (names.index(row[0]), row[1])))


def composite_id(base: str, instruments: tuple[str, ...]) -> str:
    """Return the id of the questionnaire that asks ``base`` and then the instruments."""
    return "+".join((base, *instruments))
