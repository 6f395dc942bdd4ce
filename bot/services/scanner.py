"""The due scan: find patients whose prompt time has come and open their check-in."""

from __future__ import annotations

import logging
from datetime import datetime

from bot.domain.schedule import parse_hhmm, plan_due, zone_or_error
from bot.services.checkins import CheckinService
from bot.services.runtime import Runtime

logger = logging.getLogger(__name__)


class DueScan:
    """Turns due schedule rows into check-ins and queued prompts, in batches."""

    def __init__(self, runtime: Runtime, checkins: CheckinService, batch_size: int = 500) -> None:
        self._rt = runtime
        self._checkins = checkins
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
                for patient in patients:
                    assert patient.next_prompt_at is not None  # noqa: S101 - query filter
                    plan = plan_due(
                        parse_hhmm(patient.checkin_time),
                        zone_or_error(patient.timezone),
                        patient.next_prompt_at,
                        now,
                    )
                    if plan.prompt_date is not None and await self._checkins.prompt_due(
                        uow, patient, plan.prompt_date, now
                    ):
                        queued += 1
                    patient.next_prompt_at = plan.next_prompt_at
                await uow.commit()
            self._rt.wake_delivery()
        if queued:
            logger.info("due scan queued %d prompts", queued)
        return queued
