"""The questionnaire a patient's check-in uses on a day: the cohort's daily set, followed on
instrument days by the weekly instruments (see bot.domain.weekly), in the same message or in
one of their own (the cohort's ``instrument_delivery``). An instrument with no validated
wording in the patient's language is left out for that patient (bot.domain.weekly.not_asked).
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Protocol

from bot.config import AppConfig, ConfigError, day_questionnaire_id
from bot.domain.weekly import instruments_due, not_asked
from bot.services.checkin.courses import current_course_start
from storage.models import Cohort


class Enrolled(Protocol):
    """What of a patient the day's questionnaire depends on (a Patient, or the due scan's
    columns)."""

    @property
    def consented_at(self) -> datetime:
        """When the patient enrolled."""

    @property
    def timezone(self) -> str:
        """The patient's IANA zone."""

    @property
    def locale(self) -> str:
        """The language the patient is asked in."""

    @property
    def course_started_on(self) -> date | None:
        """The local day the current treatment course began, if a provider recorded one."""


def questionnaire_for_day(config: AppConfig, cohort: Cohort, patient: Enrolled, day: date) -> str:
    """Return the key (in ``config.questionnaires``) of the questionnaire asked on ``day``."""
    try:
        settings = config.cohort(cohort.name)
    except ConfigError:
        return cohort.questionnaire  # a cohort no longer configured keeps its daily set
    due = instruments_due(
        day,
        weekday=settings.instrument_weekday,
        weekly=tuple(settings.weekly_instruments),
        # The instrument clock restarts with a new treatment course (its first is a baseline).
        enrolled_on=current_course_start(patient),
        pcl5_every_weeks=settings.pcl5_every_weeks,
        skip=not_asked(settings.instruments, patient.locale, config.untranslated),
    )
    if not due:
        return cohort.questionnaire
    base = config.questionnaires[cohort.questionnaire].id
    return day_questionnaire_id(base, due, settings.instrument_delivery)
