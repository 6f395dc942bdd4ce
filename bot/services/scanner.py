"""The due scan: find patients whose prompt time has come and open their check-in.

It works in batches of set-based statements (one query for the due patients, one insert for
their check-ins, one for their prompts, one update of their next prompt times), so a clinic's
whole morning costs a handful of round trips rather than several per patient.
"""

from __future__ import annotations

import logging
from datetime import date, datetime
from typing import Any

from bot.domain.checkin import CheckinStatus, first_position
from bot.domain.schedule import DuePlan, parse_hhmm, plan_due, window_close, zone_or_error
from bot.services import views
from bot.services.day_questionnaire import questionnaire_for_day
from bot.services.outbox import OnSent, Priority, send_row
from bot.services.runtime import Runtime
from storage.models import Cohort, Patient

logger = logging.getLogger(__name__)


class DueScan:
    """Turns due schedule rows into check-ins and queued prompts, in batches."""

    def __init__(self, runtime: Runtime, batch_size: int = 500) -> None:
        self._rt = runtime
        self._batch_size = batch_size

    async def run(self, now: datetime | None = None) -> int:
        """Scan until no patient is due; return how many prompts were queued."""
        now = now or self._rt.clock.now()
        queued = 0
        while True:
            async with self._rt.uow() as uow:
                patients = await uow.patients.due(now, self._batch_size)
                if not patients:
                    break
                cohorts = {cohort.id: cohort for cohort in await uow.cohorts.all()}
                plans = [
                    (patient, self._plan(patient, cohorts[patient.cohort_id], now))
                    for patient in patients
                ]
                opened = await uow.checkins.open_many(
                    [
                        self._checkin_row(patient, cohorts[patient.cohort_id], day, now)
                        for patient, plan in plans
                        if (day := plan.prompt_date) is not None
                    ]
                )
                # Days that passed while nothing ran: recorded as missed, never as zeros.
                await uow.checkins.open_many(
                    [
                        self._missed_row(patient, cohorts[patient.cohort_id], day, now)
                        for patient, plan in plans
                        for day in plan.missed_dates
                    ]
                )
                queued += await uow.outbox.enqueue_many(
                    self._prompt_rows(plans, opened, cohorts, now)
                )
                for patient, plan in plans:
                    patient.next_prompt_at = plan.next_prompt_at
                await uow.commit()
            self._rt.wake_delivery()
        if queued:
            logger.info("due scan queued %d prompts", queued)
        return queued

    @staticmethod
    def _plan(patient: Patient, cohort: Cohort, now: datetime) -> DuePlan:
        assert patient.next_prompt_at is not None  # noqa: S101 - the query's filter
        return plan_due(
            parse_hhmm(patient.checkin_time),
            zone_or_error(patient.timezone),
            patient.next_prompt_at,
            now,
            cohort.checkin_window_hours,
        )

    def _checkin_row(
        self, patient: Patient, cohort: Cohort, day: date, now: datetime
    ) -> dict[str, Any]:
        key = questionnaire_for_day(self._rt.config, cohort, patient, day)
        questionnaire = self._rt.config.questionnaires[key]
        return {
            "patient_id": patient.id,
            "local_date": day,
            "timezone": patient.timezone,
            "questionnaire": key,
            "status": CheckinStatus.OPEN.value,
            "position": first_position(questionnaire),
            "opened_at": now,
            "closes_at": window_close(
                day,
                parse_hhmm(patient.checkin_time),
                zone_or_error(patient.timezone),
                cohort.checkin_window_hours,
            ),
            "completed_at": None,
            "version": 0,
        }

    def _missed_row(
        self, patient: Patient, cohort: Cohort, day: date, now: datetime
    ) -> dict[str, Any]:
        row = self._checkin_row(patient, cohort, day, now)
        row.update(status=CheckinStatus.MISSED.value, completed_at=now)
        return row

    def _prompt_rows(
        self,
        plans: list[tuple[Patient, DuePlan]],
        opened: dict[int, int],
        cohorts: dict[int, Cohort],
        now: datetime,
    ) -> list[dict[str, Any]]:
        """First questions for the check-ins this batch created (not ones begun by /checkin)."""
        texts: dict[tuple[str, str], str] = {}
        rows = []
        for patient, plan in plans:
            checkin_id = opened.get(patient.id)
            if checkin_id is None:
                continue
            assert plan.prompt_date is not None  # noqa: S101 - a check-in was opened for it
            questionnaire = self._rt.config.questionnaires[
                questionnaire_for_day(
                    self._rt.config, cohorts[patient.cohort_id], patient, plan.prompt_date
                )
            ]
            first = first_position(questionnaire)
            key = (questionnaire.id, patient.locale)
            if key not in texts:
                texts[key] = views.question_text(
                    self._rt.renderer, questionnaire, first, patient.locale
                )
            rows.append(
                send_row(
                    now=now,
                    chat_id=patient.chat_id,
                    text=texts[key],
                    priority=Priority.ROUTINE,
                    keyboard=views.question_keyboard(
                        self._rt.renderer, questionnaire, checkin_id, first, patient.locale
                    ),
                    dedup_key=f"prompt:{patient.id}:{plan.prompt_date}",
                    on_sent=OnSent.CHECKIN_MESSAGE,
                    ref_id=checkin_id,
                    patient_id=patient.id,
                )
            )
        return rows
