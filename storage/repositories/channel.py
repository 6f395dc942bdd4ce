"""What following a provider group needs: where it is now, whether the bot can post there,
who is on call, and the outbox rows addressed to it (bot.services.provider.provider_channel)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any, TypedDict

from sqlalchemy import ColumnElement, delete, or_, select, update

from storage.models import AlertPost, Cohort, OnCallProvider, OutboxMessage
from storage.repositories.base import Repository

MIGRATED_ERROR = "chat migrated"
"""``last_error`` of a message dead-lettered because its group had become a supergroup
(before this version followed migrations): such messages are sent again to the new id."""


class _Readdressed(TypedDict):
    """A message sent again to a group's new id (``move_chat``: the ORM's bulk update by
    primary key)."""

    id: int
    chat_id: int
    payload: dict[str, Any]
    status: str
    next_attempt_at: datetime
    last_error: None


class ChannelRepository(Repository):
    """Cohort groups: current chat id, reachability, on-call providers, their outbox rows."""

    async def cohort_by_chat(self, chat_id: int) -> Cohort | None:
        """The cohort whose group is, or was configured as, this chat, locked for the
        transaction on PostgreSQL: the two service messages of one migration, or a send's
        error and a ``my_chat_member`` update, arrive together; one changes it, the other
        then sees the change (and records nothing twice)."""
        stmt = (
            select(Cohort)
            .where(or_(Cohort.provider_chat_id == chat_id, Cohort.configured_chat_id == chat_id))
            .order_by(Cohort.provider_chat_id != chat_id)  # the current id first
            .limit(1)
        )
        if self.dialect == "postgresql":
            stmt = stmt.with_for_update()
        return await self.session.scalar(stmt.execution_options(populate_existing=True))

    async def move_chat(self, old: int, new: int, now: datetime) -> int:
        """Re-address what waits for ``old`` (pending) or was given up on because it moved
        (dead, ``chat migrated``) to ``new``, due now; return how many rows. Rows another
        delivery round holds are left to it (see ``_set_due``)."""
        rows = (
            await self.session.execute(
                self._locking(
                    select(OutboxMessage.id, OutboxMessage.payload).where(
                        OutboxMessage.chat_id == old,
                        or_(
                            OutboxMessage.status == "pending",
                            (OutboxMessage.status == "dead")
                            & (OutboxMessage.last_error == MIGRATED_ERROR),
                        ),
                    )
                )
            )
        ).all()
        changes: list[_Readdressed] = []
        for row_id, payload in rows:
            if not payload:  # blanked by housekeeping: nothing left to send
                continue
            changes.append(
                {
                    "id": row_id,
                    "chat_id": new,
                    "payload": {**payload, "chat_id": new},
                    "status": "pending",
                    "next_attempt_at": now,
                    "last_error": None,
                }
            )
        if changes:
            await self.session.execute(update(OutboxMessage), changes)
        return len(changes)

    async def park(self, chat_id: int, until: datetime) -> None:
        """Hold a chat's pending messages until ``until`` (the group cannot be reached)."""
        await self._set_due(
            until, OutboxMessage.chat_id == chat_id, OutboxMessage.next_attempt_at < until
        )

    async def unpark(self, chat_id: int, now: datetime) -> int:
        """Make a chat's held messages due now; return how many."""
        return await self._set_due(
            now, OutboxMessage.chat_id == chat_id, OutboxMessage.next_attempt_at > now
        )

    async def _set_due(self, when: datetime, *where: ColumnElement[bool]) -> int:
        """Set when pending rows are next due. Rows another delivery round holds are skipped
        (PostgreSQL): that round writes their outcome and, for a moved or lost group, calls
        the same code in its own transaction; waiting for it here could deadlock with it
        (each would hold what the other wants: the rows, the cohort row)."""
        ids = (
            await self.session.scalars(
                self._locking(
                    select(OutboxMessage.id).where(OutboxMessage.status == "pending", *where)
                )
            )
        ).all()
        if ids:
            await self.session.execute(
                update(OutboxMessage).where(OutboxMessage.id.in_(ids)).values(next_attempt_at=when)
            )
        return len(ids)

    async def pending_alert_posts(
        self, chat_id: int, max_priority: int
    ) -> Sequence[tuple[int, dict[str, Any], int]]:
        """(outbox id, payload, priority) of the alert messages waiting for a chat, at
        ``max_priority`` or more urgent."""
        rows = await self.session.execute(
            select(OutboxMessage.id, OutboxMessage.payload, OutboxMessage.priority)
            .where(
                OutboxMessage.chat_id == chat_id,
                OutboxMessage.status == "pending",
                OutboxMessage.method == "sendMessage",
                OutboxMessage.priority <= max_priority,
                OutboxMessage.id.in_(select(AlertPost.outbox_id)),
            )
            .order_by(OutboxMessage.id)
        )
        return [(int(i), dict(p), int(pr)) for i, p, pr in rows.all()]

    async def unreachable(self) -> Sequence[Cohort]:
        """Cohorts whose group the bot cannot post in."""
        return (
            await self.session.scalars(
                select(Cohort)
                .where(Cohort.group_unreachable_since.is_not(None))
                .order_by(Cohort.name)
            )
        ).all()

    async def reachability(self) -> dict[str, bool]:
        """Every cohort's name: can the bot post in its group."""
        rows = await self.session.execute(
            select(Cohort.name, Cohort.group_unreachable_since).order_by(Cohort.name)
        )
        return {str(name): since is None for name, since in rows.all()}

    async def add_on_call(self, cohort_id: int, user_id: int, now: datetime) -> bool:
        """Register a provider as on call; False when they already were."""
        return await self._insert_ignore(
            OnCallProvider,
            {"cohort_id": cohort_id, "telegram_user_id": user_id, "created_at": now},
            ("cohort_id", "telegram_user_id"),
        )

    async def remove_on_call(self, cohort_id: int, user_id: int) -> bool:
        """Take a provider off call; False when they were not on it."""
        result = await self.session.execute(
            delete(OnCallProvider).where(
                OnCallProvider.cohort_id == cohort_id,
                OnCallProvider.telegram_user_id == user_id,
            )
        )
        return bool(getattr(result, "rowcount", 0))

    async def on_call(self, cohort_id: int) -> list[int]:
        """The Telegram user ids on call for a cohort, in the order they registered."""
        rows = await self.session.scalars(
            select(OnCallProvider.telegram_user_id)
            .where(OnCallProvider.cohort_id == cohort_id)
            .order_by(OnCallProvider.id)
        )
        return [int(u) for u in rows.all()]
