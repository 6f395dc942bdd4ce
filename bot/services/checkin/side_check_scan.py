"""The side-check scan (run with the due scan): opens the post-dose check a cohort-set delay
after each scheduled dose, opens the day's optional items once the daily check-in is
completed, and closes side checks whose time is up (a post-dose check closed unanswered is
listed in the weekly digest).

Dose instants are worked out here from the stored local weekdays and time, in the patient's
zone (bot.domain.dosing), so a dose stays at its wall-clock time across DST changes.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import date, datetime, timedelta

from bot.cohort_config import CohortConfig
from bot.config import ConfigError
from bot.domain.dosing import post_dose_slots, stored_schedule
from bot.domain.optional_items import BP, enabled_items, items_due
from bot.domain.schedule import end_of_day, local_date, zone_or_error
from bot.services.checkin.side_checks import SideCheckService
from bot.services.outbox import Priority
from bot.services.runtime import Runtime
from storage.models import Cohort, Patient, SideCheck
from storage.uow import UnitOfWork

logger = logging.getLogger(__name__)

POST_DOSE_ITEMS = ("pd_effects", "pd_bother", "pd_red_flags")
"""The post-dose check's own items (prompts/questionnaires/post_dose.yaml); the home blood
pressure follows where it is turned on."""
LOOK_BACK = timedelta(days=3)
"""How far back the scan looks for side checks already opened (post-dose slots reach two
local days back: bot.domain.dosing.post_dose_slots)."""


class SideCheckScan:
    """Opens and closes side checks; one transaction per run."""

    def __init__(self, runtime: Runtime, side_checks: SideCheckService) -> None:
        self._rt = runtime
        self._checks = side_checks

    def _settings(self, cohort: Cohort) -> CohortConfig | None:
        try:
            return self._rt.config.cohort(cohort.name)
        except ConfigError:
            return None  # a cohort no longer configured: nothing new is asked

    async def run(self, now: datetime | None = None) -> int:
        """Close what is over and open what is due; return how many checks were opened."""
        now = now or self._rt.clock.now()
        async with self._rt.uow() as uow:
            for check in await uow.side_checks.closing(now, 500):
                check.status = "missed"
            cohorts = {cohort.id: cohort for cohort in await uow.cohorts.all()}
            defaults = [
                cohort.id
                for cohort in cohorts.values()
                if (settings := self._settings(cohort)) is not None and settings.optional_items
            ]
            patients = await uow.patients.side_check_candidates(defaults)
            existing = await uow.side_checks.existing(
                [p.id for p in patients], local_date(now, zone_or_error("UTC")) - LOOK_BACK
            )
            opened = await self._post_dose(uow, now, cohorts, patients, existing)
            opened += await self._optional(uow, now, cohorts, patients, existing)
            await uow.commit()
        self._rt.wake_delivery()
        if opened:
            logger.info("side-check scan opened %d checks", opened)
        return opened

    async def _post_dose(
        self,
        uow: UnitOfWork,
        now: datetime,
        cohorts: dict[int, Cohort],
        patients: Sequence[Patient],
        existing: set[tuple[int, str, date]],
    ) -> int:
        opened = 0
        for patient in patients:
            schedule = stored_schedule(patient.dosing_days, patient.dosing_time)
            settings = self._settings(cohorts[patient.cohort_id])
            if schedule is None or settings is None or patient.dosing_since is None:
                continue
            zone = zone_or_error(patient.timezone)
            slots = post_dose_slots(
                schedule,
                zone,
                delay=timedelta(minutes=settings.post_dose_delay_minutes),
                window=timedelta(hours=settings.post_dose_window_hours),
                now=now,
                since=patient.dosing_since,
            )
            for slot in slots:
                if (patient.id, "post_dose", slot.dose_date) in existing:
                    continue
                items = list(POST_DOSE_ITEMS)
                if BP in enabled_items(patient.optional_items, settings.optional_items):
                    items.append("bp")
                # Past its window already (the bot was down): recorded as not answered.
                missed = now >= slot.closes_at
                opened += await self._open(
                    uow, now, patient, "post_dose", slot.dose_date, items, slot.closes_at, missed
                )
        return opened

    async def _optional(
        self,
        uow: UnitOfWork,
        now: datetime,
        cohorts: dict[int, Cohort],
        patients: Sequence[Patient],
        existing: set[tuple[int, str, date]],
    ) -> int:
        """The optional items follow a completed daily check-in, on the days they are due."""
        candidates = []
        for patient in patients:
            settings = self._settings(cohorts[patient.cohort_id])
            if settings is None:
                continue
            today = local_date(now, zone_or_error(patient.timezone))
            enabled = enabled_items(patient.optional_items, settings.optional_items)
            due = items_due(enabled, today, settings.instrument_weekday)
            if due and (patient.id, "optional", today) not in existing:
                candidates.append((patient, today, due))
        finished = await uow.checkins.completed_on([(p.id, d) for p, d, _ in candidates])
        opened = 0
        for patient, today, due in candidates:
            if patient.id in finished:
                closes = end_of_day(today, zone_or_error(patient.timezone))
                opened += await self._open(
                    uow, now, patient, "optional", today, list(due), closes, False
                )
        return opened

    async def _open(  # noqa: PLR0917 - one row's columns
        self,
        uow: UnitOfWork,
        now: datetime,
        patient: Patient,
        kind: str,
        day: date,
        items: list[str],
        closes_at: datetime,
        missed: bool,
    ) -> int:
        check = await uow.side_checks.add_if_absent(
            {
                "patient_id": patient.id,
                "kind": kind,
                "local_date": day,
                "items": {"ids": items},
                "answers": {},
                "position": 0,
                "status": "missed" if missed else "open",
                "opened_at": now,
                "closes_at": closes_at,
            }
        )
        if check is None or missed:
            return 0
        await self._ask_first(uow, now, patient, check)
        return 1

    async def _ask_first(
        self, uow: UnitOfWork, now: datetime, patient: Patient, check: SideCheck
    ) -> None:
        text, keyboard = self._checks.question(check, patient.locale)
        await self._rt.outbound(uow, now).text_to_patient(
            patient,
            text,
            priority=Priority.ROUTINE,
            keyboard=keyboard,
            dedup_key=f"side:{check.id}",
        )
