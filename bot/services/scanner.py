"""The due scan: find patients whose prompt time has come and open their check-in.

It works in batches of set-based statements (one query for the due patients, one insert for
their check-ins, one for their prompts, one update of their next prompt times), so a clinic's
whole morning costs a handful of round trips rather than several per patient.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from bot.domain.checkin import CheckinStatus
from bot.domain.schedule import DuePlan, parse_hhmm, plan_due, window_close, zone_or_error
from bot.services import views
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
                        self._checkin_row(patient, cohorts[patient.cohort_id], plan, now)
                        for patient, plan in plans
                        if plan.prompt_date is not None
                    ]
                )
                prompts = self._prompt_rows(plans, opened, cohorts, now)
                queued += await uow.outbox.enqueue_many(prompts)
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

    @staticmethod
    def _checkin_row(
        patient: Patient, cohort: Cohort, plan: DuePlan, now: datetime
    ) -> dict[str, Any]:
        assert plan.prompt_date is not None  # noqa: S101 - filtered by the caller
        return {
            "patient_id": patient.id,
            "local_date": plan.prompt_date,
            "timezone": patient.timezone,
            "questionnaire": cohort.questionnaire,
            "status": CheckinStatus.OPEN.value,
            "position": 0,
            "opened_at": now,
            "closes_at": window_close(
                plan.prompt_date,
                parse_hhmm(patient.checkin_time),
                zone_or_error(patient.timezone),
                cohort.checkin_window_hours,
            ),
            "version": 0,
        }

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
            questionnaire = self._rt.config.questionnaires[
                cohorts[patient.cohort_id].questionnaire
            ]
            key = (questionnaire.id, patient.locale)
            if key not in texts:
                texts[key] = views.question_text(
                    self._rt.renderer, questionnaire, 0, patient.locale
                )
            rows.append(
                send_row(
                    now=now,
                    chat_id=patient.chat_id,
                    text=texts[key],
                    priority=Priority.ROUTINE,
                    keyboard=views.question_keyboard(questionnaire, checkin_id, 0, patient.locale),
                    dedup_key=f"prompt:{patient.id}:{plan.prompt_date}",
                    on_sent=OnSent.CHECKIN_MESSAGE,
                    ref_id=checkin_id,
                    patient_id=patient.id,
                )
            )
        return rows
