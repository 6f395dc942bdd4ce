"""Erasing a patient's data under their cohort's ``retention_after_delete`` (docs/privacy.md).

Used by ``/delete`` (bot.services.patient.lifecycle) and by housekeeping for discharged patients.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from bot.domain import lifecycle as lc
from bot.services.alerts.alerting import Alerting
from bot.services.patient.settings import cohort_of
from bot.services.runtime import Runtime
from storage.models import Patient
from storage.uow import UnitOfWork


@dataclass(frozen=True, slots=True)
class Erased:
    """What the reply to the patient needs once their row may be gone."""

    locale: str
    keep_audit: bool
    team_told: bool
    """The group's notice can go out now (not held while the bot cannot post there)."""


class Eraser:
    """Erase one patient in the caller's unit of work."""

    def __init__(self, runtime: Runtime) -> None:
        self._rt = runtime

    async def erase(
        self, uow: UnitOfWork, now: datetime, patient: Patient, *, actor: str, tell_group: bool
    ) -> Erased:
        """Erase the patient's data; keep what the cohort's retention setting requires.

        "audit": the patient row stays, pseudonymous (label kept; Telegram ids replaced,
        settings reset), with its accepted invite and audit events. "none": nothing that
        leads to the person stays; the group's notice does not name them.
        """
        cohort, config = await cohort_of(self._rt, uow, patient)
        keep_audit = config.retention_after_delete == "audit"
        locale, label, patient_id = patient.locale, patient.label, patient.id
        chats = {cohort.provider_chat_id, *(await uow.channel.on_call(cohort.id))}
        if cohort.configured_chat_id is not None:
            chats.add(cohort.configured_chat_id)
        placeholder = self._rt.renderer.render("erased_label", cohort.locale).strip()
        if not keep_audit:
            # The audit trail keeps every record and its place in the chain; those naming the
            # person lose their details and link (storage/repositories/audit.py, docs/security.md).
            naming = await uow.erasure.audit_naming(patient)
            await uow.audit.scrub_patient(patient.id, now, also=naming)
        await uow.erasure.erase(
            patient, keep_person=keep_audit, chats=sorted(chats), placeholder=placeholder
        )
        if keep_audit:
            # Nothing in the row can lead back to the person (Telegram ids replaced); its
            # status moves as the lifecycle's erasure says (withdrawn, or still discharged).
            patient.move(lc.erase(patient.lifecycle(), now), now)
            patient.telegram_user_id = -patient.id
            patient.chat_id = 0
            patient.locale = cohort.locale
            patient.timezone = cohort.timezone
            patient.checkin_time = config.checkin_time
            patient.region = None
            # The treatment details a provider set (bot.services.checkin.dosing) go with the rest.
            patient.dosing_days = patient.dosing_time = patient.dosing_since = None
            patient.course_started_on = patient.optional_items = None
            patient.updated_at = now
        uow.audit.record(
            at=now,
            actor=actor,
            action="data_erased",
            cohort_id=cohort.id,
            patient_id=patient_id if keep_audit else None,
            details={"retention": config.retention_after_delete},
        )
        if tell_group:
            # Not linked (no ``about``): nothing queued after the erasure points to the row.
            await self._rt.outbound(uow, now).to_group(
                cohort, "deleted_group", label=label if keep_audit else None
            )
        return Erased(
            locale=locale,
            keep_audit=keep_audit,
            team_told=tell_group and Alerting.team_can_be_told(cohort),
        )
