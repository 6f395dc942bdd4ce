"""The care-team loop's rows: which group messages are about which patient, the team's
messages to patients, and follow-up actions recorded on alerts."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import select

from storage.models import (
    Alert,
    AlertFollowUp,
    AlertPost,
    OutboxMessage,
    TeamMessage,
    TeamPost,
)
from storage.repositories.base import Repository
from storage.repositories.outbox import OutboxRepository


class TeamRepository(Repository):
    """Team posts, team messages and follow-up actions."""

    async def add_post(self, patient_id: int, dedup_key: str) -> None:
        """Record that the group message queued under ``dedup_key`` is about a patient."""
        outbox_id = await OutboxRepository(self.session).queued_id(dedup_key)
        if outbox_id is not None:
            await self._insert_ignore(
                TeamPost, {"patient_id": patient_id, "outbox_id": outbox_id}, ("outbox_id",)
            )

    async def patients_of_post(self, chat_id: int, message_id: int) -> list[int]:
        """Return the patients a sent group message is about: one for a notice, a relayed
        reply or an alert, several for a shared alert message, none for anything else."""
        sent = select(OutboxMessage.id).where(
            OutboxMessage.chat_id == chat_id, OutboxMessage.telegram_message_id == message_id
        )
        posts = select(TeamPost.patient_id).where(TeamPost.outbox_id.in_(sent))
        alerts = (
            select(Alert.patient_id)
            .join(AlertPost, AlertPost.head_id == Alert.id)
            .where(AlertPost.outbox_id.in_(sent))
        )
        found = set((await self.session.scalars(posts)).all())
        # An erased patient's alerts keep no patient (storage/erasure.py): nobody to write to.
        found |= {p for p in (await self.session.scalars(alerts)).all() if p is not None}
        return sorted(found)

    def add_message(self, message: TeamMessage) -> None:
        """Stage a team message (a draft until the provider confirms)."""
        self.session.add(message)

    async def message(self, message_id: int) -> TeamMessage | None:
        """Return a team message by id."""
        return await self.session.get(TeamMessage, message_id)

    async def open_relay(self, patient_id: int, now: datetime) -> TeamMessage | None:
        """Return the newest sent team message whose relay window is open and unused."""
        stmt = (
            select(TeamMessage)
            .where(
                TeamMessage.patient_id == patient_id,
                TeamMessage.status == "sent",
                TeamMessage.relay_until > now,
                TeamMessage.reply_message_id.is_(None),
            )
            .order_by(TeamMessage.id.desc())
            .limit(1)
        )
        return await self.session.scalar(stmt)

    async def record_follow_up(
        self, head_id: int, patient_id: int, action: str, user_id: int, at: datetime
    ) -> bool:
        """Record a follow-up action on an alert event; False if it was recorded before."""
        return await self._insert_ignore(
            AlertFollowUp,
            {
                "head_id": head_id,
                "patient_id": patient_id,
                "action": action,
                "by_user_id": user_id,
                "at": at,
            },
            ("head_id", "action"),
        )

    async def follow_ups(self, head_ids: Sequence[int]) -> dict[int, set[str]]:
        """Return the actions recorded per event."""
        if not head_ids:
            return {}
        rows = await self.session.execute(
            select(AlertFollowUp.head_id, AlertFollowUp.action).where(
                AlertFollowUp.head_id.in_(head_ids)
            )
        )
        found: dict[int, set[str]] = {}
        for head_id, action in rows.all():
            found.setdefault(int(head_id), set()).add(str(action))
        return found
