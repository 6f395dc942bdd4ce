"""Alerts and the group posts that show them."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any, TypedDict

from sqlalchemy import (
    case,
    select,
    update,
)

from bot.domain.lifecycle import AlertStatus
from storage.models import (
    Alert,
    AlertPost,
    OutboxMessage,
)
from storage.repositories.base import Repository

_WAITING = (
    Alert.group_message_id.is_(None),
    Alert.head_id.is_not(None),
    Alert.head_id == Alert.id,
)
"""An event waiting to be announced: its head alert, with no group message yet."""


class NewAlert(TypedDict):
    """An alert to raise (``AlertRepository.add_if_absent``)."""

    cohort_id: int
    patient_id: int
    checkin_id: int | None
    rule: str
    tier: str
    status: AlertStatus
    dedup_key: str
    event_key: str | None
    created_at: datetime
    after_hours: bool
    details: dict[str, Any] | None
    """What fired it (JSON, locale-free: ``bot.domain.alert_details``)."""


class AlertRepository(Repository):
    """Alerts for the care team, and the group messages (posts) that show their events."""

    async def add_if_absent(self, values: NewAlert) -> Alert | None:
        """Create an alert unless one with the same dedup key exists; return the new one."""
        created = await self._insert_ignore(Alert, values, ("dedup_key",))
        if not created:
            return None
        return await self.session.scalar(
            select(Alert).where(Alert.dedup_key == values["dedup_key"])
        )

    async def announced_for_checkin(self, checkin_id: int) -> bool:
        """Tell whether an alert raised from a check-in went (or is going) to the group."""
        found = await self.session.scalar(
            select(Alert.id)
            .where(Alert.checkin_id == checkin_id, Alert.head_id.is_not(None))
            .limit(1)
        )
        return found is not None

    async def announced_for_event(self, event_key: str) -> bool:
        """Tell whether an alert about an event (e.g. an answer of a side check) went (or is
        going) to the group."""
        found = await self.session.scalar(
            select(Alert.id)
            .where(Alert.event_key == event_key, Alert.head_id.is_not(None))
            .limit(1)
        )
        return found is not None

    async def get(self, alert_id: int) -> Alert | None:
        """Return an alert, locked for update on PostgreSQL."""
        return await self.session.get(
            Alert, alert_id, with_for_update=self.dialect == "postgresql"
        )

    async def set_group_message_ids(self, pairs: Sequence[tuple[int, int]]) -> None:
        """Record the group message of each announcement: (first head alert id, message id).

        Every alert of every event the announcement lists holds that head's id negated until
        then.
        """
        for head_id, message_id in pairs:
            await self.session.execute(
                update(Alert)
                .where(Alert.group_message_id == -head_id)
                .values(group_message_id=message_id)
            )

    async def of_events(self, head_ids: Sequence[int]) -> Sequence[Alert]:
        """Return the alerts of some events (by head id), oldest first. Not locked: a press
        locks its event's head, and what a message shows is read under its post's lock."""
        if not head_ids:
            return []
        stmt = select(Alert).where(Alert.head_id.in_(head_ids)).order_by(Alert.id)
        return (await self.session.scalars(stmt)).all()

    async def waiting(self, cohort_id: int, limit: int) -> Sequence[Alert]:
        """Return the heads of a cohort's events not yet announced, IMMEDIATE first, then
        oldest; locked for this flush."""
        stmt = (
            select(Alert)
            .where(*_WAITING, Alert.cohort_id == cohort_id)
            .order_by(case((Alert.tier == "IMMEDIATE", 0), else_=1), Alert.created_at, Alert.id)
            .limit(limit)
        )
        return (await self.session.scalars(self._locking(stmt))).all()

    async def cohorts_waiting(self) -> list[int]:
        """Return the cohorts that have events waiting to be announced."""
        rows = await self.session.scalars(select(Alert.cohort_id).where(*_WAITING).distinct())
        return sorted(rows.all())

    async def due_reraise(self, now: datetime, limit: int) -> Sequence[Alert]:
        """Return heads of announced events due to be raised again (unacknowledged), locked
        for this scan."""
        stmt = (
            select(Alert)
            .where(
                Alert.next_reraise_at <= now,
                Alert.acknowledged_at.is_(None),
                Alert.resolved_at.is_(None),
                Alert.group_message_id.is_not(None),
            )
            .order_by(Alert.next_reraise_at, Alert.id)
            .limit(limit)
        )
        return (await self.session.scalars(self._locking(stmt))).all()

    async def add_posts(self, rows: Sequence[tuple[int, int, int]]) -> None:
        """Record which events a group message shows: (head id, step, outbox id); step 0 is
        the announcement, n the n-th re-raise."""
        for head_id, step, outbox_id in rows:
            await self._insert_ignore(
                AlertPost,
                {"head_id": head_id, "step": step, "outbox_id": outbox_id},
                ("head_id", "step"),
            )

    async def posts_of(self, head_id: int) -> list[tuple[int, int, int | None]]:
        """Return the messages that show an event: (step, outbox id, Telegram message id or
        None while unsent), locked on PostgreSQL."""
        stmt = (
            select(AlertPost.step, AlertPost.outbox_id, OutboxMessage.telegram_message_id)
            .join(OutboxMessage, OutboxMessage.id == AlertPost.outbox_id)
            .where(AlertPost.head_id == head_id)
            .order_by(AlertPost.outbox_id)
        )
        if self.dialect == "postgresql":
            # Presses on two events of one shared message each re-render all of it: taking
            # the messages' rows in one order makes the second wait and see the first's work.
            stmt = stmt.with_for_update(of=OutboxMessage)
        rows = await self.session.execute(stmt)
        return [(int(step), int(outbox), mid) for step, outbox, mid in rows.all()]

    async def on_post(self, outbox_id: int) -> list[tuple[int, int]]:
        """Return the events one group message shows: (head id, step)."""
        rows = await self.session.execute(
            select(AlertPost.head_id, AlertPost.step)
            .where(AlertPost.outbox_id == outbox_id)
            .order_by(AlertPost.head_id)
        )
        return [(int(head), int(step)) for head, step in rows.all()]

    async def of_patient(self, patient_id: int) -> Sequence[Alert]:
        """Return every alert raised for a patient, oldest first."""
        return (
            await self.session.scalars(
                select(Alert).where(Alert.patient_id == patient_id).order_by(Alert.id)
            )
        ).all()
