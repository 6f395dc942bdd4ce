"""Read model: what one patient sent (their check-ins and answers are read by
``AnswerQueries.of_patient``)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import (
    select,
)

from storage.models import PatientMessage
from storage.repositories.base import Repository


class PatientHistoryQueries(Repository):
    """A patient's messages: the recent ones a command shows, all of them for their export
    (erasure: storage.erasure)."""

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

    async def messages_of(self, patient_id: int) -> Sequence[PatientMessage]:
        """Return what a patient sent that was not an answer, oldest first."""
        stmt = (
            select(PatientMessage)
            .where(PatientMessage.patient_id == patient_id)
            .order_by(PatientMessage.received_at, PatientMessage.id)
        )
        return (await self.session.scalars(stmt)).all()
