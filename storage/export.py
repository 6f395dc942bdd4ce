"""Read model for exports (the FHIR bundle): a cohort's patients and their answered
check-ins, streamed in batches so a large cohort never sits in memory at once."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from datetime import date, datetime
from typing import NamedTuple

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import Answer, Checkin, Patient
from storage.statuses import LEFT


class ExportedPatient(NamedTuple):
    """A patient row as an export may use it: key, label, status."""

    id: int
    label: str
    status: str


class AnswerRow(NamedTuple):
    """One answer with its check-in's facts (rows come ordered by patient, then check-in)."""

    patient_id: int
    checkin_id: int
    local_date: date
    status: str
    questionnaire: str
    completed_at: datetime | None
    closes_at: datetime
    item_id: str
    value: str
    answered_at: datetime


class ExportRepository:
    """Queries for a cohort's export. Read only."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    @staticmethod
    def _statuses(include_left: bool) -> Sequence[str] | None:
        return None if include_left else sorted(LEFT)

    async def patients(self, cohort_id: int, *, include_left: bool) -> list[ExportedPatient]:
        """Return the cohort's patients by id; without ``include_left``, none who left
        (discharged or withdrawn)."""
        stmt = select(Patient.id, Patient.label, Patient.status).where(
            Patient.cohort_id == cohort_id
        )
        left = self._statuses(include_left)
        if left is not None:
            stmt = stmt.where(Patient.status.not_in(left))
        rows = (await self.session.execute(stmt.order_by(Patient.id))).all()
        return [ExportedPatient(row[0], row[1], row[2]) for row in rows]

    async def answers(
        self, cohort_id: int, *, include_left: bool, batch: int = 5000
    ) -> AsyncIterator[Sequence[AnswerRow]]:
        """Yield the answers of the cohort's patients in batches, ordered by patient id,
        check-in id and answer time (a check-in's answers may span two batches)."""
        stmt = (
            select(
                Checkin.patient_id,
                Checkin.id,
                Checkin.local_date,
                Checkin.status,
                Checkin.questionnaire,
                Checkin.completed_at,
                Checkin.closes_at,
                Answer.item_id,
                Answer.value,
                Answer.answered_at,
            )
            .join(Answer, Answer.checkin_id == Checkin.id)
            .join(Patient, Patient.id == Checkin.patient_id)
            .where(Patient.cohort_id == cohort_id)
            .order_by(Checkin.patient_id, Checkin.id, Answer.answered_at, Answer.id)
        )
        left = self._statuses(include_left)
        if left is not None:
            stmt = stmt.where(Patient.status.not_in(left))
        result = await self.session.stream(stmt.execution_options(yield_per=batch))
        async for partition in result.partitions(batch):
            yield [AnswerRow._make(row) for row in partition]
