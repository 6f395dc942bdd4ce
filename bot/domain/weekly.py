"""Which validated instruments a patient's check-in carries on a given day.

PHQ-9 and GAD-7 come weekly on the cohort's weekday; PCL-5, where a cohort enables it, every
N weeks (its look-back is a month: REFERENCE.md 2.3), counted from the patient's first
instrument day so that the first one is a baseline. They are asked in the patient's usual
slot, after the daily items in the same message or (``instrument_delivery = "own_message"``)
in a message of their own once the daily part is done or skipped: one check-in row a day.
"""

from __future__ import annotations

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
) -> tuple[str, ...]:
    """Return the instruments asked on ``day`` (in asking order), none on other days."""
    if not weekly and pcl5_every_weeks is None:
        return ()
    if day.weekday() != WEEKDAYS.index(weekday) or day < enrolled_on:
        return ()
    due = tuple(name for name in WEEKLY if name in weekly)
    if pcl5_every_weeks is not None:
        weeks = (day - first_instrument_day(enrolled_on, weekday)).days // 7
        if weeks % pcl5_every_weeks == 0:
            due += (PCL5,)
    return due


def composite_id(base: str, instruments: tuple[str, ...]) -> str:
    """Return the id of the questionnaire that asks ``base`` and then the instruments."""
    return "+".join((base, *instruments))
