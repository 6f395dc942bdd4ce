"""What became of each message the delivery worker sent: its outcome written to the outbox
(sent, retried later, dead, refused for its content, its chat blocked or moved), in the
worker's transaction, and counted (``DeliveryStats``). Split from ``bot.transport.delivery``,
which sends; this module records.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Protocol

from bot.services.outbox import OnSent
from bot.transport.delivery_calls import Outcome
from storage.repositories.outbox import OutboxChange
from storage.uow import UnitOfWork

logger = logging.getLogger("bot.transport.delivery")
"""The worker's logger: the lines about outcomes are the delivery worker's."""


@dataclass(slots=True)
class DeliveryStats:
    """Counters for logs, benchmarks and /metrics."""

    sent: int = 0
    retried: int = 0
    dead: int = 0
    forbidden: int = 0
    rounds: int = 0
    """Claims that found messages to send."""
    by_error: dict[str, int] = field(default_factory=dict)
    deferred: int = 0
    rejected: dict[tuple[str, str], int] = field(default_factory=dict)
    """Messages Telegram refused for their content, by (reason, ``group`` or ``private``):
    dead-lettered at once (also counted in ``dead``)."""


class DeliveryHooks(Protocol):
    """What the composition root (bot.app) plugs into the delivery worker: called in the
    outcome transaction."""

    on_blocked: Callable[[UnitOfWork, int, datetime], Awaitable[None]] | None
    """A private chat answered 403."""
    on_group_migrated: Callable[[UnitOfWork, int, int, datetime], Awaitable[object]] | None
    """A group answered ChatMigrated (old, new id)."""
    on_group_unreachable: Callable[[UnitOfWork, int, datetime, str], Awaitable[object]] | None
    """The bot cannot post in a group."""


class OutcomeWriter:
    """Writes outcomes to the outbox and counts them."""

    def __init__(self, max_attempts: int, stats: DeliveryStats, hooks: DeliveryHooks) -> None:
        self._max_attempts = max_attempts
        self._stats = stats
        self._hooks = hooks

    @property
    def stats(self) -> DeliveryStats:
        """The counters this writer adds to."""
        return self._stats

    async def write(self, uow: UnitOfWork, outcomes: Sequence[Outcome], now: datetime) -> None:
        """Write a round's outcomes in the caller's transaction."""
        changes: list[OutboxChange] = []
        checkin_messages: list[tuple[int, int]] = []
        alert_messages: list[tuple[int, int]] = []
        blocked_chats: set[int] = set()
        for outcome in outcomes:
            row = outcome.row
            change: OutboxChange = {"id": row.id, "lease_until": None}
            if outcome.kind == "sent":
                change.update(
                    {"status": "sent", "sent_at": now, "telegram_message_id": outcome.message_id}
                )
                self._stats.sent += 1
                if row.on_sent == OnSent.CHECKIN_MESSAGE and row.ref_id and outcome.message_id:
                    checkin_messages.append((row.ref_id, outcome.message_id))
                if row.on_sent == OnSent.ALERT_MESSAGE and row.ref_id and outcome.message_id:
                    alert_messages.append((row.ref_id, outcome.message_id))
            elif outcome.kind == "retry":
                attempts = row.attempts + (1 if outcome.counts_attempt else 0)
                if attempts >= self._max_attempts:
                    change.update(
                        {"status": "dead", "attempts": attempts, "last_error": outcome.error}
                    )
                    self._stats.dead += 1
                    logger.error(
                        "outbox message %d dead after %d attempts: %s",
                        row.id,
                        attempts,
                        outcome.error,
                    )
                else:
                    change.update(
                        {
                            "attempts": attempts,
                            "last_error": outcome.error,
                            "next_attempt_at": now + timedelta(seconds=outcome.delay),
                        }
                    )
                    self._stats.retried += 1
            elif outcome.kind == "deferred":
                change.update({"next_attempt_at": now + timedelta(seconds=outcome.delay)})
                self._stats.deferred += 1
            elif outcome.kind == "forbidden":
                change.update({"status": "failed", "last_error": outcome.error})
                blocked_chats.add(row.chat_id)
                self._stats.forbidden += 1
            elif outcome.kind in {"dead", "rejected"}:
                change.update(
                    {"status": "dead", "attempts": row.attempts + 1, "last_error": outcome.error}
                )
                self._dead(outcome)
            if outcome.error:
                self._stats.by_error[outcome.error[:40]] = (
                    self._stats.by_error.get(outcome.error[:40], 0) + 1
                )
            changes.append(change)
        await uow.outbox.apply(changes)
        await uow.checkins.set_message_ids(checkin_messages)
        await uow.alerts.set_group_message_ids(alert_messages)
        for chat_id in blocked_chats:
            await self._blocked(uow, chat_id, now)
        # A provider group that moved or is lost: its rows stay pending (no branch above),
        # re-addressed or held by the hooks.
        await self._groups_changed(uow, outcomes, now)

    async def _groups_changed(
        self, uow: UnitOfWork, outcomes: Sequence[Outcome], now: datetime
    ) -> None:
        """Tell bot.services.provider.provider_channel, once per chat, of groups that moved or that
        the bot cannot post in (outcomes made only when the hooks are set)."""
        moved: dict[int, int] = {}
        lost: dict[int, str] = {}
        for outcome in outcomes:
            if outcome.kind == "migrated" and outcome.new_chat_id is not None:
                moved[outcome.row.chat_id] = outcome.new_chat_id
            elif outcome.kind == "group_lost":
                lost[outcome.row.chat_id] = outcome.error or "forbidden"
                self._stats.forbidden += 1
        for old, new in moved.items():
            if self._hooks.on_group_migrated is not None:
                await self._hooks.on_group_migrated(uow, old, new, now)
        for chat_id, error in lost.items():
            if self._hooks.on_group_unreachable is not None:
                await self._hooks.on_group_unreachable(uow, chat_id, now, error)

    def _dead(self, outcome: Outcome) -> None:
        """Count and log a message given up on at once. One Telegram refused for its
        content: one line with the outbox id and the reason only (the row's ``last_error``
        keeps Telegram's words)."""
        row = outcome.row
        self._stats.dead += 1
        if outcome.kind != "rejected" or outcome.reason is None:
            logger.error("outbox message %d dead: %s", row.id, outcome.error)
            return
        reason = outcome.reason
        chat = "group" if row.chat_id < 0 else "private"
        key = (reason, chat)
        self._stats.rejected[key] = self._stats.rejected.get(key, 0) + 1
        logger.error(
            "outbox message %d to a %s chat refused by Telegram for its content (%s): "
            "dead-lettered, not retried",
            row.id,
            chat,
            reason,
            extra={"outbox_id": row.id, "reason": reason},
        )

    async def _blocked(self, uow: UnitOfWork, chat_id: int, now: datetime) -> None:
        """A 403: the chat blocked the bot (or removed it). Stop trying; say so."""
        await uow.outbox.cancel_pending_for_chat(chat_id, "chat blocked the bot")
        if chat_id > 0:
            if self._hooks.on_blocked is not None:
                await self._hooks.on_blocked(uow, chat_id, now)
        else:
            logger.error("the bot cannot post to group %s (removed from it?)", chat_id)
