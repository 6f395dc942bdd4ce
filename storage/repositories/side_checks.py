"""Side checks (post-dose check, optional items) and the patient columns their scan reads
(bot.services.checkin.side_checks)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime

from sqlalchemy import and_, func, or_, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from bot.domain import lifecycle
from storage.models import Alert, Checkin, Patient, SideCheck
from storage.repositories.base import Repository


class SideCheckRepository(Repository):
    """Side checks of patients: open, answered, missed."""

    async def add_if_absent(self, values: dict[str, object]) -> SideCheck | None:
        """Insert a side check unless the patient has one of that kind for that day; return
        the new row, or None (a scan that ran twice, or two workers, open it once)."""
        build = pg_insert if self.dialect == "postgresql" else sqlite_insert
        stmt = (
            build(SideCheck)
            .values(**values)
            .on_conflict_do_nothing(index_elements=["patient_id", "kind", "local_date"])
            .returning(SideCheck.id)
        )
        new_id = await self.session.scalar(stmt)
        return None if new_id is None else await self.session.get(SideCheck, new_id)

    async def get(self, check_id: int) -> SideCheck | None:
        """Return a side check by id, locked for the transaction on PostgreSQL."""
        return await self.session.get(
            SideCheck, check_id, with_for_update=self.dialect == "postgresql"
        )

    async def open_of(self, patient_id: int, now: datetime) -> Sequence[SideCheck]:
        """Return the patient's side checks still open at ``now``, oldest first."""
        stmt = (
            select(SideCheck)
            .where(
                SideCheck.patient_id == patient_id,
                SideCheck.status == "open",
                SideCheck.closes_at > now,
            )
            .order_by(SideCheck.opened_at, SideCheck.id)
        )
        return (await self.session.scalars(stmt)).all()

    async def closing(self, now: datetime, limit: int) -> Sequence[SideCheck]:
        """Return open side checks whose time is up."""
        stmt = (
            select(SideCheck)
            .where(SideCheck.status == "open", SideCheck.closes_at <= now)
            .order_by(SideCheck.closes_at, SideCheck.id)
            .limit(limit)
        )
        return (await self.session.scalars(self._locking(stmt))).all()

    async def candidates(self, default_cohorts: Sequence[int]) -> Sequence[Patient]:
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

    async def finished_today(self, days: Sequence[tuple[int, date]]) -> set[int]:
        """Of (patient id, local date) pairs, return the patients whose daily check-in of
        that date is completed (the optional items follow a finished check-in)."""
        if not days:
            return set()
        wanted = dict(days)
        stmt = select(Checkin.patient_id, Checkin.local_date).where(
            Checkin.patient_id.in_(wanted), Checkin.status == "completed"
        )
        rows = await self.session.execute(stmt)
        return {pid for pid, day in rows if wanted.get(pid) == day}

    async def existing(
        self, patient_ids: Sequence[int], since: date
    ) -> set[tuple[int, str, date]]:
        """Return (patient id, kind, local date) of the patients' side checks since a date."""
        if not patient_ids:
            return set()
        stmt = select(SideCheck.patient_id, SideCheck.kind, SideCheck.local_date).where(
            SideCheck.patient_id.in_(patient_ids), SideCheck.local_date >= since
        )
        return {(pid, kind, day) for pid, kind, day in await self.session.execute(stmt)}

    async def unanswered_doses(
        self, patient_ids: Sequence[int], since: date, until: date
    ) -> dict[int, int]:
        """Count, per patient, post-dose checks between two local dates (inclusive) that
        closed unanswered."""
        if not patient_ids:
            return {}
        stmt = (
            select(SideCheck.patient_id, func.count())
            .where(
                and_(
                    SideCheck.patient_id.in_(patient_ids),
                    SideCheck.kind == "post_dose",
                    SideCheck.status == "missed",
                    SideCheck.local_date >= since,
                    SideCheck.local_date <= until,
                )
            )
            .group_by(SideCheck.patient_id)
        )
        return {pid: int(n) for pid, n in await self.session.execute(stmt)}

    async def announced(self, check_id: int) -> bool:
        """Whether an answer of this side check raised an alert that went to the group."""
        stmt = select(Alert.id).where(
            Alert.event_key == f"side:{check_id}", Alert.head_id.is_not(None)
        )
        return await self.session.scalar(stmt.limit(1)) is not None

    async def of_patient(self, patient_id: int, since: date) -> Sequence[SideCheck]:
        """Return a patient's side checks from a local date on, oldest first."""
        stmt = (
            select(SideCheck)
            .where(SideCheck.patient_id == patient_id, SideCheck.local_date >= since)
            .order_by(SideCheck.local_date, SideCheck.id)
        )
        return (await self.session.scalars(stmt)).all()
