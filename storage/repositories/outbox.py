"""The outbox: queueing, the delivery worker's claim, and what became of each message."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, NotRequired, Required, TypedDict, cast

from sqlalchemy import (
    CursorResult,
    Executable,
    Integer,
    Row,
    Select,
    String,
    Table,
    Update,
    and_,
    bindparam,
    case,
    func,
    insert,
    literal_column,
    or_,
    select,
    update,
)
from sqlalchemy import cast as cast_

from storage.models import (
    OutboxMessage,
    Patient,
)
from storage.repositories.base import Repository, insert_ignoring, skip_locked, update_by_id

_OUTBOX = cast("Table", OutboxMessage.__table__)


class NewOutboxMessage(TypedDict):
    """A message to queue (``enqueue``; ``enqueue_many``'s rows, sent as executemany
    parameters, so every row of one call has the same keys)."""

    chat_id: int
    method: str
    payload: dict[str, Any]
    """The Bot API call's parameters (JSON)."""
    priority: int
    status: str
    attempts: int
    next_attempt_at: datetime
    created_at: datetime
    dedup_key: NotRequired[str | None]
    on_sent: NotRequired[str | None]
    ref_id: NotRequired[int | None]
    patient_id: NotRequired[int | None]


class OutboxChange(TypedDict, total=False):
    """What became of a message (``apply``): its id and the columns to set, only those."""

    id: Required[int]
    status: str
    attempts: int
    last_error: str | None
    lease_until: datetime | None
    next_attempt_at: datetime
    sent_at: datetime
    telegram_message_id: int | None


_LEASE = (
    update(_OUTBOX)
    .where(_OUTBOX.c.id.in_(bindparam("ids", expanding=True)))
    .values(lease_until=bindparam("lease_until"))
)


@dataclass(frozen=True)
class _UpdateById:
    """Builds ``update_by_id(columns)`` for ``Repository._built`` (the same on every dialect)."""

    columns: tuple[str, ...]

    def __call__(self, _dialect: str) -> Update:
        return update_by_id(self.columns, _OUTBOX)


def _claim_statement(dialect: str, *, urgent: bool, sharded: bool) -> Select[*tuple[Any, ...]]:
    """The delivery worker's claim (built once per variant: ``Repository._built``), its
    values as parameters (``now``, ``limit``, ``max_priority``, ``rank``, ``count``), on the
    table: the worker claims at least once per round and lane, and building, keying and
    ORM-loading the query each time cost more than running it."""
    out = _OUTBOX
    earlier = out.alias("earlier")
    blocked = (
        select(earlier.c.id)
        .where(
            earlier.c.chat_id == out.c.chat_id,
            earlier.c.status == "pending",
            # "+ 0": the priority is only a filter here, never an index bound. Offered
            # (status, priority) SQLite chose that index (it has no statistics) and walked
            # every pending message for each candidate, so a claim grew with the queue
            # (docs/performance.md, "Figures behind constants in the code").
            # The chat's own index (chat_id, status, id) reads one or two entries.
            # tests/integration/test_claim_plans.py checks the plans on both databases.
            earlier.c.priority + literal_column("0") <= out.c.priority,
            earlier.c.id < out.c.id,
        )
        .exists()
    )
    stmt: Select[*tuple[Any, ...]] = (
        select(
            out.c.id,
            out.c.chat_id,
            out.c.method,
            out.c.payload,
            out.c.priority,
            out.c.attempts,
            out.c.on_sent,
            out.c.ref_id,
        )
        .where(
            out.c.status == "pending",
            out.c.next_attempt_at <= bindparam("now"),
            or_(out.c.lease_until.is_(None), out.c.lease_until < bindparam("now")),
            ~blocked,
        )
        .order_by(out.c.priority, out.c.id)
        .limit(bindparam("limit", type_=Integer))
    )
    if urgent:
        stmt = stmt.where(out.c.priority <= bindparam("max_priority"))
    if sharded:
        count = bindparam("count", type_=Integer)
        # SQL's % keeps the sign of the dividend; group ids are negative.
        stmt = stmt.where((out.c.chat_id % count + count) % count == bindparam("rank"))
    return skip_locked(stmt, dialect)


_OUTBOX_INSERT = insert(_OUTBOX)
"""A plain insert, built once (see ``insert_ignoring``)."""


class OutboxRepository(Repository):
    """Messages waiting to be sent, and their delivery state."""

    async def queued_id(self, dedup_key: str) -> int | None:
        """Return the id of the message queued under a dedup key (sent or not), if any."""
        return await self.session.scalar(
            select(OutboxMessage.id).where(OutboxMessage.dedup_key == dedup_key)
        )

    async def sent_message_id(self, dedup_key: str) -> int | None:
        """Return the Telegram id of the message queued under a dedup key, once sent."""
        return await self.session.scalar(
            select(OutboxMessage.telegram_message_id).where(OutboxMessage.dedup_key == dedup_key)
        )

    async def enqueue(self, values: NewOutboxMessage) -> bool:
        """Queue a message; with a dedup key already used, queue nothing and return False."""
        if values.get("dedup_key") is None:
            with self.session.no_autoflush:  # as in _insert_ignore
                await self.session.execute(_OUTBOX_INSERT, values)
            return True
        return await self._insert_ignore(OutboxMessage, values, ("dedup_key",))

    async def enqueue_many(self, rows: Sequence[NewOutboxMessage]) -> int:
        """Queue many messages in one statement; rows whose dedup key was used are skipped."""
        if not rows:
            return 0
        stmt = self._built("enqueue_many", self._enqueue_many_statement)
        # As in CheckinRepository.open_many; RETURNING counts what went in on every backend
        # (an executemany's rowcount is not reliable across drivers).
        result = await self.session.execute(stmt, list(rows))
        return len(result.all())

    @staticmethod
    def _enqueue_many_statement(dialect: str) -> Executable:
        return insert_ignoring(dialect, _OUTBOX, ("dedup_key",)).returning(_OUTBOX.c.id)

    async def claim(
        self,
        now: datetime,
        limit: int,
        lease: timedelta,
        *,
        shard: tuple[int, int] | None = None,
        max_priority: int | None = None,
    ) -> Sequence[Row[Any]]:
        """Lease the next messages to send, most urgent first: rows with the columns the
        delivery worker needs (id, chat_id, method, payload, priority, attempts, on_sent,
        ref_id).

        A message waits while an earlier one to the same chat, at the same or a more urgent
        priority, is still pending: messages to one chat arrive in order, yet a crisis card
        can overtake a routine prompt. A lease (not a status change) marks a claim, so a
        worker that dies mid-send leaves its messages to be claimed again when it expires.

        Args:
            shard: (rank, count): only chats with ``chat_id mod count == rank`` (several
                workers each sending to their own chats; ids of groups are negative).
            max_priority: only messages this urgent or more (the worker's fast lane).
        """
        urgent, sharded = max_priority is not None, shard is not None
        stmt = self._built(
            f"claim:{urgent}:{sharded}",
            lambda dialect: _claim_statement(dialect, urgent=urgent, sharded=sharded),
        )
        params: dict[str, Any] = {"now": now, "limit": limit, "max_priority": max_priority}
        if shard is not None:
            params["rank"], params["count"] = shard
        rows = (await self.session.execute(stmt, params)).all()
        if rows:
            await self.session.execute(
                _LEASE, {"ids": [row.id for row in rows], "lease_until": now + lease}
            )
        return rows

    async def release_leases(self) -> int:
        """Forget every lease (a process that knows it is the only one, at its start: the
        leases are a dead predecessor's, whose messages would otherwise wait for them to end).
        Returns how many were released."""
        result = cast(
            "CursorResult[Any]",
            await self.session.execute(
                update(OutboxMessage)
                .where(OutboxMessage.status == "pending", OutboxMessage.lease_until.is_not(None))
                .values(lease_until=None)
                .execution_options(synchronize_session=False)
            ),
        )
        return result.rowcount

    async def count_dead(self, chat_id: int | None = None) -> tuple[int, int]:
        """Return (dead messages, of which to groups), all or to one chat: what operators
        (and a provider group, for its own chat) must be told of."""
        stmt = select(func.count(), func.count().filter(OutboxMessage.chat_id < 0)).where(
            OutboxMessage.status == "dead"
        )
        if chat_id is not None:
            stmt = stmt.where(OutboxMessage.chat_id == chat_id)
        row = (await self.session.execute(stmt)).one()
        return int(row[0]), int(row[1])

    async def apply(self, changes: Sequence[OutboxChange]) -> None:
        """Write delivery outcomes.

        One executemany per set of columns, on the table: the ORM's bulk update by primary
        key cost more than the messages' own sending (docs/performance.md, "Figures behind
        constants in the code")."""
        groups: dict[tuple[str, ...], list[dict[str, object]]] = {}
        for change in changes:
            columns = tuple(sorted(name for name in change if name != "id"))
            params = {f"v_{name}": value for name, value in change.items() if name != "id"}
            params["b_id"] = change["id"]
            groups.setdefault(columns, []).append(params)
        for columns, rows in groups.items():
            stmt = self._built(f"outbox-apply:{','.join(columns)}", _UpdateById(columns))
            await self.session.execute(stmt, rows)

    async def scrub_finished(
        self, before: datetime, limit: int, *, cohort_id: int | None, chats: Sequence[int]
    ) -> int:
        """Blank the payload of finished messages created before a time, and the chat id of
        those to private chats (0: no one); return how many rows changed.

        ``cohort_id``: the messages to or about that cohort's patients (linked, or to their
        chats) or to ``chats`` (its group); None: the messages of no cohort (to people not
        enrolled, or no longer: an erased patient's chat id is gone), ``chats`` being every
        cohort's chats.
        """
        if cohort_id is not None:
            ours = Patient.cohort_id == cohort_id
            scope = or_(
                OutboxMessage.patient_id.in_(select(Patient.id).where(ours)),
                OutboxMessage.chat_id.in_(select(Patient.chat_id).where(ours)),
                OutboxMessage.chat_id.in_(chats),
            )
        else:
            scope = and_(
                OutboxMessage.patient_id.is_(None),
                OutboxMessage.chat_id.not_in(chats),
                OutboxMessage.chat_id.not_in(select(Patient.chat_id)),
            )
        stmt = (
            select(OutboxMessage.id)
            .where(
                OutboxMessage.status != "pending",
                OutboxMessage.created_at < before,
                scope,
                # Rows already scrubbed are skipped (text form: JSON has no = on PG). The
                # payload is encrypted, but a blanked one is stored as a plain {}
                # (EncryptedJSON), so this looks at no content.
                or_(cast_(OutboxMessage.payload, String) != "{}", OutboxMessage.chat_id > 0),
            )
            .limit(limit)
        )
        # Locked and skipped: two workers' housekeeping never waits for (or deadlocks with)
        # the other's, each scrubs its own rows.
        ids = (await self.session.scalars(self._locking(stmt))).all()
        if ids:
            await self.session.execute(
                update(OutboxMessage)
                .where(OutboxMessage.id.in_(ids))
                .values(
                    payload={},
                    chat_id=case((OutboxMessage.chat_id > 0, 0), else_=OutboxMessage.chat_id),
                )
            )
        return len(ids)

    async def cancel_pending_for_chat(self, chat_id: int, reason: str) -> None:
        """Stop trying to reach a chat (the user blocked the bot)."""
        await self.session.execute(
            update(OutboxMessage)
            .where(OutboxMessage.chat_id == chat_id, OutboxMessage.status == "pending")
            .values(status="cancelled", last_error=reason, lease_until=None)
        )

    async def group_usage(
        self, chat_id: int, since: datetime, *, alert_priority: int
    ) -> tuple[int, int]:
        """Count a chat's messages that take a place in its rate window: those waiting to be
        sent and those sent since ``since`` (the alert announcer's budget), as (alert
        messages, others); alert messages are those at ``alert_priority`` or more urgent."""
        alert = OutboxMessage.priority <= alert_priority
        row = (
            await self.session.execute(
                select(func.count().filter(alert), func.count().filter(~alert))
                .select_from(OutboxMessage)
                .where(
                    OutboxMessage.chat_id == chat_id,
                    or_(
                        OutboxMessage.status == "pending",
                        and_(OutboxMessage.status == "sent", OutboxMessage.sent_at >= since),
                    ),
                )
            )
        ).one()
        return int(row[0] or 0), int(row[1] or 0)
