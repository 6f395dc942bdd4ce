"""Processed updates: each Telegram update is acted on once."""

from __future__ import annotations

from datetime import datetime
from typing import cast

from sqlalchemy import (
    BigInteger,
    Executable,
    Table,
    bindparam,
    delete,
    select,
    update,
)

from storage.models import (
    Patient,
    ProcessedUpdate,
)
from storage.repositories.base import Repository


class UpdateRepository(Repository):
    """Telegram updates already processed."""

    async def forget(self, before: datetime, limit: int) -> int:
        """Forget update ids processed before a time (replays stop long before); return how
        many."""
        ids = (
            await self.session.scalars(
                # Skip rows another worker's housekeeping holds: no deadlock, no double work.
                self._locking(
                    select(ProcessedUpdate.update_id)
                    .where(ProcessedUpdate.processed_at < before)
                    .limit(limit)
                )
            )
        ).all()
        if ids:
            await self.session.execute(
                delete(ProcessedUpdate).where(ProcessedUpdate.update_id.in_(ids))
            )
        return len(ids)

    claimed: int | None = None
    """The update this unit of work claimed (linked to its patient at commit: storage.uow)."""

    async def claim(self, update_id: int, now: datetime) -> bool:
        """Record an update as processed; False when it was already (a replay)."""
        self.claimed = update_id
        return await self._insert_ignore(
            ProcessedUpdate, {"update_id": update_id, "processed_at": now}, ("update_id",)
        )

    async def link(self, update_id: int, patient_id: int) -> None:
        """Record whose update it was, so that erasing the patient finds it; nothing if the
        patient row is gone (erased in this very transaction)."""
        stmt = self._built("link_update", self._link_statement)
        await self.session.execute(stmt, {"b_update_id": update_id, "b_patient_id": patient_id})

    @staticmethod
    def _link_statement(_dialect: str) -> Executable:
        table = cast("Table", ProcessedUpdate.__table__)
        patients = cast("Table", Patient.__table__)
        pid = bindparam("b_patient_id", type_=BigInteger())
        return (
            update(table)
            .where(
                table.c.update_id == bindparam("b_update_id", type_=BigInteger()),
                select(patients.c.id).where(patients.c.id == pid).exists(),
            )
            .values(patient_id=pid)
        )
