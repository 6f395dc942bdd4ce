"""The window scan: one reminder for an unfinished check-in, and closing it when its
window ends (missed when nothing was answered, partial otherwise; never zeros)."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from bot.domain.checkin import CheckinStatus
from bot.domain.lifecycle import PatientStatus
from bot.services.checkin.checkins import CheckinService
from bot.services.checkin.history import PatientRules
from bot.services.outbox import Priority
from bot.services.runtime import Runtime
from storage.uow import UnitOfWork

logger = logging.getLogger(__name__)


class WindowScan:
    """Sends reminders and closes check-ins whose window has ended."""

    def __init__(
        self,
        runtime: Runtime,
        checkins: CheckinService,
        patient_rules: PatientRules,
        batch_size: int = 500,
    ) -> None:
        self._rt = runtime
        self._checkins = checkins
        self._patient_rules = patient_rules
        self._batch_size = batch_size

    async def run(self, now: datetime | None = None) -> tuple[int, int]:
        """Remind and close what is due; return (reminders queued, check-ins closed)."""
        now = now or self._rt.clock.now()
        return await self._remind(now), await self._close(now)

    async def _remind(self, now: datetime) -> int:
        hours = {c.name: c.reminder_after_hours for c in self._rt.config.cohorts}
        if not any(h is not None for h in hours.values()):
            return 0
        shortest = min(h for h in hours.values() if h is not None)
        reminded = 0
        async with self._rt.uow() as uow:
            cohorts = {c.id: c.name for c in await uow.cohorts.all()}
            rows = await uow.checkins.needing_reminder(
                now, now - timedelta(hours=shortest), self._batch_size
            )
            for checkin, patient in rows:
                after = hours.get(cohorts[patient.cohort_id])
                if after is None or checkin.opened_at + timedelta(hours=after) > now:
                    continue
                checkin.reminded_at = now
                intro = self._rt.renderer.render("checkin_reminder", patient.locale)
                await self._checkins.ask_anew(
                    uow, now, patient, checkin, priority=Priority.ROUTINE, intro=intro
                )
                reminded += 1
            await uow.commit()
        if reminded:
            self._rt.wake_delivery()
        return reminded

    async def _close(self, now: datetime) -> int:
        closed = 0
        while True:
            async with self._rt.uow() as uow:
                rows = await uow.checkins.closing(now, self._batch_size)
                if not rows:
                    break
                answered = await uow.checkins.answered_ids([c.id for c in rows])
                for checkin in rows:
                    partial = checkin.id in answered
                    checkin.status = (
                        CheckinStatus.PARTIAL if partial else CheckinStatus.MISSED
                    ).value
                    checkin.completed_at = now
                    checkin.draft = None
                    if checkin.message_id is not None:
                        patient = await uow.patients.get(checkin.patient_id)
                        if patient is not None:
                            await self._rt.outbound(uow, now).edit_patient(
                                patient,
                                checkin.message_id,
                                "checkin_window_closed",
                                priority=Priority.ROUTINE,
                            )
                closed += len(rows)
                # Missed and partial days feed the patient-level rules (missed streaks,
                # a missed day after an event): one evaluation per patient per batch.
                for patient_id in dict.fromkeys(c.patient_id for c in rows):
                    await self._evaluate(uow, now, patient_id)
                await uow.commit()
            self._rt.wake_delivery()
        return closed

    async def _evaluate(self, uow: UnitOfWork, now: datetime, patient_id: int) -> None:
        patient = await uow.patients.get(patient_id)
        if patient is None or patient.status != PatientStatus.ACTIVE:
            return
        cohort = await uow.cohorts.get(patient.cohort_id)
        if cohort is not None:
            await self._patient_rules.check(uow, now, cohort, patient)
