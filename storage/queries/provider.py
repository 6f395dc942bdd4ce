"""Read model: what the care team's commands show."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime

from sqlalchemy import (
    func,
    select,
)

from bot.domain import lifecycle
from storage.models import (
    Alert,
    Checkin,
    Cohort,
    OutboxMessage,
    Patient,
)
from storage.repositories.base import Repository


class ProviderQueries(Repository):
    """What the provider commands read: a cohort's patients, their days and open alerts,
    and what was not delivered (their answers: ``AnswerQueries``; the CSV export:
    ``ExportQueries.csv_rows``)."""

    async def undelivered(self, cohort: Cohort, since: datetime) -> tuple[int, int]:
        """Return how many messages since a time were given up on (dead letters): (to the
        cohort's group, to its patients)."""
        to_group = await self.session.scalar(
            select(func.count()).where(
                OutboxMessage.status == "dead",
                OutboxMessage.created_at >= since,
                OutboxMessage.chat_id == cohort.provider_chat_id,
            )
        )
        to_patients = await self.session.scalar(
            select(func.count())
            .select_from(OutboxMessage)
            .join(Patient, Patient.chat_id == OutboxMessage.chat_id)
            .where(
                OutboxMessage.chat_id > 0,  # 0: a chat id blanked by housekeeping
                OutboxMessage.status == "dead",
                OutboxMessage.created_at >= since,
                Patient.cohort_id == cohort.id,
            )
        )
        return int(to_group or 0), int(to_patients or 0)

    async def patients_of(self, cohort_id: int) -> Sequence[Patient]:
        """Return a cohort's patients by label."""
        stmt = select(Patient).where(Patient.cohort_id == cohort_id).order_by(Patient.label)
        return (await self.session.scalars(stmt)).all()

    async def checkins_since(self, patient_ids: Sequence[int], since: date) -> Sequence[Checkin]:
        """Return the check-ins of these patients from a local date on, oldest first."""
        if not patient_ids:
            return []
        stmt = (
            select(Checkin)
            .where(Checkin.patient_id.in_(patient_ids), Checkin.local_date >= since)
            .order_by(Checkin.patient_id, Checkin.local_date)
        )
        return (await self.session.scalars(stmt)).all()

    async def last_done_dates(
        self, patient_ids: Sequence[int], done: Sequence[str]
    ) -> dict[int, date]:
        """Return each patient's newest local date with a check-in in one of ``done``."""
        if not patient_ids:
            return {}
        stmt = (
            select(Checkin.patient_id, func.max(Checkin.local_date))
            .where(Checkin.patient_id.in_(patient_ids), Checkin.status.in_(done))
            .group_by(Checkin.patient_id)
        )
        return {int(pid): day for pid, day in (await self.session.execute(stmt)).all()}

    async def unresolved_alerts(
        self, cohort_id: int, patient_id: int | None = None
    ) -> Sequence[tuple[Alert, str]]:
        """Return a cohort's alerts not yet resolved, oldest first, with the patient label."""
        stmt = (
            select(Alert, Patient.label)
            .join(Patient, Patient.id == Alert.patient_id)
            .where(Alert.cohort_id == cohort_id, Alert.status != lifecycle.AlertStatus.RESOLVED)
            .order_by(Alert.created_at, Alert.id)
        )
        if patient_id is not None:
            stmt = stmt.where(Alert.patient_id == patient_id)
        return [(row[0], str(row[1])) for row in (await self.session.execute(stmt)).all()]
