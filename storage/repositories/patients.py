"""Patients: enrolment, the scans' columns (due prompts, side checks, lifecycle),
reachability."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime
from typing import Any, NamedTuple, cast

from sqlalchemy import (
    Executable,
    Integer,
    Select,
    Table,
    and_,
    bindparam,
    or_,
    select,
    update,
)

from bot.domain import lifecycle
from storage.models import (
    Patient,
    PatientMessage,
)
from storage.repositories.base import Repository, skip_locked
from storage.types import UTCDateTime


class DuePatient(NamedTuple):
    """The columns of a patient that the due scan reads."""

    id: int
    cohort_id: int
    chat_id: int
    locale: str
    timezone: str
    checkin_time: str
    next_prompt_at: datetime
    consented_at: datetime
    course_started_on: date | None


class PatientRepository(Repository):
    """Patients."""

    def add(self, patient: Patient) -> None:
        """Stage a new patient."""
        self.session.add(patient)

    async def get(self, patient_id: int) -> Patient | None:
        """Return the patient with that id."""
        return await self.session.get(Patient, patient_id)

    subject: int | None = None
    """The patient this unit of work found by Telegram account (see ``UpdateRepository.link``)."""

    async def by_telegram_user(self, user_id: int) -> Patient | None:
        """Return the patient who uses this Telegram account."""
        patient = await self.session.scalar(
            select(Patient).where(Patient.telegram_user_id == user_id)
        )
        if patient is not None:
            self.subject = patient.id
        return patient

    async def by_label(self, cohort_id: int, label: str) -> Patient | None:
        """Return a cohort's patient by label (labels are unique per cohort), locked for
        update on PostgreSQL: the provider command that names them acts on them."""
        stmt = select(Patient).where(Patient.cohort_id == cohort_id, Patient.label == label)
        if self.dialect == "postgresql":
            stmt = stmt.with_for_update()
        return await self.session.scalar(stmt)

    async def label_taken(self, cohort_id: int, label: str) -> bool:
        """Tell whether a cohort already has a patient with this label."""
        found = await self.session.scalar(
            select(Patient.id).where(Patient.cohort_id == cohort_id, Patient.label == label)
        )
        return found is not None

    async def due(self, now: datetime, limit: int) -> list[DuePatient]:
        """Return active patients whose next prompt time has come, locked for this scan.

        Columns, not ORM objects: loading the busiest minute's Patient objects and flushing
        their new prompt times was an eighth of its scan, and the objects lengthened the
        garbage collections in the middle of it (docs/performance.md, "Figures behind
        constants in the code").
        """
        stmt = self._built("due", self._due_statement)
        result = await self.session.execute(stmt, {"now": now, "limit": limit})
        return [DuePatient(*row) for row in result]

    @staticmethod
    def _due_statement(dialect: str) -> Select[Any]:
        stmt = (
            select(*(getattr(Patient, name) for name in DuePatient._fields))
            .where(
                Patient.status == lifecycle.PatientStatus.ACTIVE,
                Patient.next_prompt_at <= bindparam("now", type_=UTCDateTime()),
            )
            .order_by(Patient.next_prompt_at, Patient.id)
            .limit(bindparam("limit", type_=Integer()))
        )
        # On PostgreSQL several workers scan side by side: each takes rows no other holds.
        return skip_locked(stmt, dialect)

    async def set_next_prompts(self, pairs: Sequence[tuple[int, datetime]]) -> None:
        """Set patients' next prompt times: (patient_id, next_prompt_at), in one executemany."""
        if not pairs:
            return
        stmt = self._built("set_next_prompts", self._set_next_prompts_statement)
        await self.session.execute(stmt, [{"pid": pid, "next": at} for pid, at in pairs])

    @staticmethod
    def _set_next_prompts_statement(_dialect: str) -> Executable:
        # The table, not the entity, as in CheckinRepository.open_many.
        table = cast("Table", Patient.__table__)
        return (
            update(table)
            .where(table.c.id == bindparam("pid"))
            .values(next_prompt_at=bindparam("next", type_=UTCDateTime()))
        )

    async def mark_unreachable_by_chat(self, chat_id: int, now: datetime) -> Patient | None:
        """Mark the patient in this private chat unreachable (they blocked the bot)."""
        patient = await self.session.scalar(select(Patient).where(Patient.chat_id == chat_id))
        if patient is None:
            return None
        try:
            patient.move(lifecycle.mark_unreachable(patient.lifecycle(), now), now)
        except lifecycle.Refused:  # withdrawn, discharged, or unreachable already
            return None
        return patient

    def add_message(self, message: PatientMessage) -> None:
        """Stage a message from a patient (free text or a sticker, photo ...)."""
        self.session.add(message)

    async def discharged_before(
        self, cohort_id: int, before: datetime, limit: int
    ) -> Sequence[Patient]:
        """Return a cohort's patients discharged before a time whose data is not yet erased
        (an erased row kept for the audit trail has a negative Telegram id), locked."""
        stmt = (
            select(Patient)
            .where(
                Patient.cohort_id == cohort_id,
                Patient.status == lifecycle.PatientStatus.DISCHARGED,
                Patient.discharged_at < before,
                Patient.telegram_user_id > 0,
            )
            .order_by(Patient.discharged_at, Patient.id)
            .limit(limit)
        )
        return (await self.session.scalars(self._locking(stmt))).all()

    async def paused_until_before(self, now: datetime, limit: int) -> Sequence[Patient]:
        """Return paused patients whose pause has ended, locked for this scan."""
        stmt = (
            select(Patient)
            .where(Patient.status == lifecycle.PatientStatus.PAUSED, Patient.paused_until <= now)
            .order_by(Patient.paused_until, Patient.id)
            .limit(limit)
        )
        return (await self.session.scalars(self._locking(stmt))).all()

    async def side_check_candidates(self, default_cohorts: Sequence[int]) -> Sequence[Patient]:
        """Return the active patients who may have a side check due: a dosing schedule, or
        optional items of their own, or none of their own in a cohort with default ones.
        Everyone else costs the scan nothing."""
        own_items = and_(Patient.optional_items.is_not(None), Patient.optional_items != "")
        by_default = and_(Patient.optional_items.is_(None), Patient.cohort_id.in_(default_cohorts))
        stmt = select(Patient).where(
            Patient.status == lifecycle.PatientStatus.ACTIVE,
            or_(Patient.dosing_days.is_not(None), own_items, by_default),
        )
        return (await self.session.scalars(stmt)).all()
