"""The one answer to "when did this patient's current treatment course start?".

Everything measured from a course baseline asks here: the patient's own daily baseline and
the PHQ-9/GAD-7 baseline (bot.services.checkin.history), the weekly instruments' clock
(bot.services.checkin.day_questionnaire), and any rule comparing with the course's first results
(docs/clinical.md §2.5, §3.4). A provider starts a new course with ``/course LABEL start``
(bot.services.checkin.dosing).
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Protocol

from bot.domain.course import course_start
from bot.domain.schedule import local_date, zone_or_error


class OnCourse(Protocol):
    """What of a patient the course start depends on (a Patient, or the due scan's columns)."""

    @property
    def consented_at(self) -> datetime:
        """When the patient enrolled."""

    @property
    def timezone(self) -> str:
        """The patient's IANA zone."""

    @property
    def course_started_on(self) -> date | None:
        """The local day of the last ``/course LABEL start``, if any."""


def current_course_start(patient: OnCourse) -> date:
    """Return the first local day of the patient's current course: the day of the last
    ``/course LABEL start``, else the day they enrolled. The course baseline is measured
    from the check-ins and instruments on or after this day."""
    enrolled_on = local_date(patient.consented_at, zone_or_error(patient.timezone))
    return course_start(patient.course_started_on, enrolled_on)
