"""Confirmation tokens of destructive patient actions (/delete, /stop), kept server-side."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select

from storage.models import Confirmation, OutboxMessage
from storage.repositories.base import Repository
from storage.repositories.outbox import OutboxRepository


class ConfirmationRepository(Repository):
    """Tokens a patient's confirmation buttons carry: issued with the question, good once."""

    async def issue(
        self,
        *,
        patient_id: int,
        action: str,
        token_hash: str,
        dedup_key: str,
        now: datetime,
        expires_at: datetime,
    ) -> None:
        """Store a token for the message queued under ``dedup_key`` (the question)."""
        outbox_id = await OutboxRepository(self.session).queued_id(dedup_key)
        self.session.add(
            Confirmation(
                patient_id=patient_id,
                action=action,
                token_hash=token_hash,
                outbox_id=outbox_id,
                created_at=now,
                expires_at=expires_at,
            )
        )

    async def find(self, token_hash: str) -> tuple[Confirmation, int | None] | None:
        """Return the token's row, locked on PostgreSQL (two presses: the second waits and
        sees it used), with the Telegram id of the message that asked (None while unsent)."""
        stmt = (
            select(Confirmation, OutboxMessage.telegram_message_id)
            .outerjoin(OutboxMessage, OutboxMessage.id == Confirmation.outbox_id)
            .where(Confirmation.token_hash == token_hash)
        )
        if self.dialect == "postgresql":
            stmt = stmt.with_for_update(of=Confirmation)
        row = (await self.session.execute(stmt)).first()
        return None if row is None else (row[0], row[1])
