"""Read model: one patient's own history (messages, check-ins, answers)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime

from sqlalchemy import (
    select,
)

from storage.models import (
    Answer,
    Checkin,
    PatientMessage,
)
from storage.repositories.base import Repository


class PatientHistoryQueries(Repository):
    """A patient's own data as a whole: messages they sent, their export (erasure:
    storage.erasure)."""

    async def recent_messages(
        self, patient_id: int, since: datetime, limit: int
    ) -> Sequence[PatientMessage]:
        """Return what a patient sent since an instant, newest first, at most ``limit``."""
        result = await self.session.scalars(
            select(PatientMessage)
            .where(PatientMessage.patient_id == patient_id, PatientMessage.received_at >= since)
            .order_by(PatientMessage.received_at.desc(), PatientMessage.id.desc())
            .limit(limit)
        )
        return list(result)

    async def checkins_of(self, patient_id: int) -> Sequence[Checkin]:
        """Return a patient's check-ins, oldest first."""
        stmt = select(Checkin).where(Checkin.patient_id == patient_id).order_by(Checkin.local_date)
        return (await self.session.scalars(stmt)).all()

    async def answers_of(self, patient_id: int) -> Sequence[tuple[date, str, str, datetime]]:
        """Return a patient's answers as (local date, item id, value, answered at)."""
        stmt = (
            select(Checkin.local_date, Answer.item_id, Answer.value, Answer.answered_at)
            .join(Checkin, Checkin.id == Answer.checkin_id)
            .where(Checkin.patient_id == patient_id)
            .order_by(Checkin.local_date, Answer.answered_at, Answer.id)
        )
        return [(row[0], row[1], row[2], row[3]) for row in (await self.session.execute(stmt))]

    async def messages_of(self, patient_id: int) -> Sequence[PatientMessage]:
        """Return what a patient sent that was not an answer, oldest first."""
        stmt = (
            select(PatientMessage)
            .where(PatientMessage.patient_id == patient_id)
            .order_by(PatientMessage.received_at, PatientMessage.id)
        )
        return (await self.session.scalars(stmt)).all()
