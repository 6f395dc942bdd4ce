"""Side checks (post-dose check, optional items: bot.services.checkin.side_checks). The
patients their scan looks at are ``PatientRepository.side_check_candidates``."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime
from typing import Any, TypedDict

from sqlalchemy import and_, func, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from storage.models import SideCheck
from storage.repositories.base import Repository


class NewSideCheck(TypedDict):
    """A side check to open (``SideCheckRepository.add_if_absent``)."""

    patient_id: int
    kind: str
    local_date: date
    items: dict[str, Any]
    """``{"ids": [...]}`` (JSON: ``SideCheck.items``)."""
    answers: dict[str, Any]
    position: int
    status: str
    opened_at: datetime
    closes_at: datetime


class SideCheckRepository(Repository):
    """Side checks of patients: open, answered, missed."""

    async def add_if_absent(self, values: NewSideCheck) -> SideCheck | None:
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

    async def of_patient(self, patient_id: int, since: date) -> Sequence[SideCheck]:
        """Return a patient's side checks from a local date on, oldest first."""
        stmt = (
            select(SideCheck)
            .where(SideCheck.patient_id == patient_id, SideCheck.local_date >= since)
            .order_by(SideCheck.local_date, SideCheck.id)
        )
        return (await self.session.scalars(stmt)).all()
