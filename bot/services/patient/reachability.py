"""Patients the bot cannot reach (they blocked it) and their return.

A 403 on a message to a patient means they blocked the bot: prompts stop (the patient is
``unreachable``, which the due scan skips), and the care team is told once, as an URGENT
alert, because a patient who cannot be reached is a patient nobody is watching. When the
patient writes again, they go back to where they were (bot/domain/lifecycle.py): active from
their next usual time, or paused until the end of a pause that is still running.
"""

from __future__ import annotations

from datetime import datetime

from bot.domain import lifecycle as lc
from bot.domain.alerts import Tier
from bot.services.alerts.alerting import Alerting, Raise
from bot.services.runtime import Runtime
from storage.uow import UnitOfWork

RULE = "patient_unreachable"


class Reachability:
    """Marks patients unreachable on a 403, and reachable again when they write."""

    def __init__(self, runtime: Runtime, alerting: Alerting) -> None:
        self._rt = runtime
        self._alerting = alerting

    async def blocked(self, uow: UnitOfWork, chat_id: int, now: datetime) -> None:
        """Called by the delivery worker, in its transaction, for a 403 to a private chat."""
        patient = await uow.patients.mark_unreachable_by_chat(chat_id, now)
        if patient is None:
            return  # unknown chat, or already unreachable: tell nobody twice
        uow.audit.record(
            at=now,
            actor="system",
            action="patient_unreachable",
            cohort_id=patient.cohort_id,
            patient_id=patient.id,
            details={},
        )
        cohort = await uow.cohorts.get(patient.cohort_id)
        assert cohort is not None  # noqa: S101 - foreign key
        await self._alerting.raise_(
            uow,
            now,
            cohort,
            patient,
            [Raise(RULE, Tier.URGENT, f"unreachable:{now.isoformat(timespec='seconds')}")],
        )

    async def seen(self, user_id: int) -> None:
        """A patient wrote or tapped: if they were unreachable, they are back as before."""
        # This runs for every private update, and almost never changes anything: look
        # without a write lock first.
        async with self._rt.uow.reading() as uow:
            patient = await uow.patients.by_telegram_user(user_id)
            if patient is None or patient.status != lc.PatientStatus.UNREACHABLE:
                return
        now = self._rt.clock.now()
        async with self._rt.uow() as uow:
            patient = await uow.patients.by_telegram_user(user_id)
            if patient is None or patient.status != lc.PatientStatus.UNREACHABLE:
                return  # someone else brought them back meanwhile
            patient.move(lc.mark_reachable(patient.lifecycle(), now, patient.usual_time()), now)
            uow.audit.record(
                at=now,
                actor="patient",
                action="patient_reachable_again",
                cohort_id=patient.cohort_id,
                patient_id=patient.id,
                details={},
            )
            await uow.commit()
