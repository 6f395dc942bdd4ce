"""Read model: health and metrics."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import (
    func,
    select,
    text,
)

from storage.models import (
    Alert,
    OutboxMessage,
)
from storage.repositories.base import Repository


class OpsQueries(Repository):
    """What /healthz and /metrics read: the database answering, the outbox, alerts."""

    async def ping(self) -> None:
        """``SELECT 1``; raises when the database does not answer."""
        await self.session.execute(text("SELECT 1"))

    async def outbox_depth(self, statuses: Sequence[str]) -> dict[tuple[str, int], int]:
        """Count outbox rows by (status, priority) among some statuses."""
        rows = await self.session.execute(
            select(OutboxMessage.status, OutboxMessage.priority, func.count())
            .where(OutboxMessage.status.in_(statuses))
            .group_by(OutboxMessage.status, OutboxMessage.priority)
        )
        return {(str(s), int(p)): int(n) for s, p, n in rows.all()}

    async def oldest_due_by_priority(self, now: datetime) -> dict[int, datetime]:
        """When the oldest due pending message of each priority became due."""
        rows = await self.session.execute(
            select(OutboxMessage.priority, func.min(OutboxMessage.next_attempt_at))
            .where(OutboxMessage.status == "pending", OutboxMessage.next_attempt_at <= now)
            .group_by(OutboxMessage.priority)
        )
        return {int(p): oldest for p, oldest in rows.all()}

    async def alerts_by_tier_and_status(self) -> dict[tuple[str, str], int]:
        """Count alerts by (tier, status)."""
        rows = await self.session.execute(
            select(Alert.tier, Alert.status, func.count()).group_by(Alert.tier, Alert.status)
        )
        return {(str(t), str(s)): int(n) for t, s, n in rows.all()}
