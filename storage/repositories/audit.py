"""The audit trail: staging records, sealing them into their hash chains at commit, erasing
their details, pruning old records behind an anchor, and reading chains back to verify.

The chain rules (serialisation, hashes, what verification checks) are
``bot.domain.audit_chain``'s; this module stores what they compute.

Concurrency: records are inserted when staged (so their foreign-key checks take their locks
early) without a place. At commit, ``seal`` locks each chain's head row (lowest chain first,
``SELECT ... FOR UPDATE`` on PostgreSQL; SQLite has one writer at a time), gives the records
consecutive places and hashes and moves the head. The head lock is the last lock a
transaction takes and it only touches its own rows afterwards, so workers that audit at the
same time queue on the head and never deadlock on it.
"""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator, Iterable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import delete, func, or_, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from bot.domain.audit_chain import (
    ERASED_ACTION,
    GENESIS,
    PRUNED_ACTION,
    TOMBSTONE,
    Link,
    StoredRecord,
    subject_digest,
)
from storage.models import AuditChain, AuditEvent
from storage.repositories.base import Repository

READ_BATCH = 5000


class AuditRepository(Repository):
    """The audit trail (append-only: records are added, sealed, scrubbed or pruned)."""

    def __init__(self, session: AsyncSession) -> None:
        super().__init__(session)
        self._staged: list[AuditEvent] = []

    def record(
        self,
        *,
        at: datetime,
        actor: str,
        action: str,
        cohort_id: int | None = None,
        patient_id: int | None = None,
        details: dict[str, Any] | None = None,
    ) -> None:
        """Stage an audit event (ids and event names only: no names or free text). It gets
        its place in its cohort's chain when the unit of work commits."""
        event = AuditEvent(
            at=at,
            actor=actor,
            action=action,
            cohort_id=cohort_id,
            patient_id=patient_id,
            details=details or {},
            chain=cohort_id or 0,
        )
        self.session.add(event)
        self._staged.append(event)

    def record_reads(
        self,
        *,
        at: datetime,
        actor: str,
        action: str,
        cohort_id: int,
        patient_ids: Iterable[int],
        details: dict[str, Any] | None = None,
    ) -> None:
        """Stage one record per patient whose data someone saw or took (an export, a digest):
        "who read which patient" stays answerable per patient, and erasing a patient finds
        every such record by its ``patient_id``."""
        for patient_id in sorted(set(patient_ids)):
            self.record(
                at=at,
                actor=actor,
                action=action,
                cohort_id=cohort_id,
                patient_id=patient_id,
                details=dict(details or {}),
            )

    async def seal(self) -> None:
        """Give every staged record its place and hash (see the module's docstring)."""
        if not self._staged:
            return
        staged, self._staged = self._staged, []
        await self.session.flush()
        for chain in sorted({event.chain for event in staged}):
            head = await self._head(chain)
            for event in (e for e in staged if e.chain == chain):
                salt = secrets.token_hex(16)
                subject = subject_digest(salt, event.patient_id, event.details)
                seq = head.seq + 1
                link = Link(
                    chain, seq, event.at, event.actor, event.action, event.cohort_id, subject,
                    head.hash,
                )  # fmt: skip
                event.seq, event.salt, event.subject = seq, salt, subject
                event.prev_hash, event.hash = head.hash, link.hash()
                head.seq, head.hash = seq, event.hash
        await self.session.flush()

    async def _head(self, chain: int) -> AuditChain:
        """The chain's head row, created if new, locked until the transaction ends."""
        values = {"chain": chain, "seq": 0, "hash": GENESIS, "anchor_seq": 0,
                  "anchor_hash": GENESIS}  # fmt: skip
        maker = pg_insert if self.dialect == "postgresql" else sqlite_insert
        await self.session.execute(maker(AuditChain).values(**values).on_conflict_do_nothing())
        stmt = select(AuditChain).where(AuditChain.chain == chain)
        if self.dialect == "postgresql":
            stmt = stmt.with_for_update()
        head = await self.session.scalar(stmt.execution_options(populate_existing=True))
        assert head is not None  # noqa: S101 - inserted above
        return head

    async def scrub_patient(
        self, patient_id: int, now: datetime, *, also: Sequence[int] = ()
    ) -> int:
        """Erase a patient from the audit trail without breaking it: every record naming
        them keeps its place, time, actor and action, loses its details (a tombstone) and
        its salt, and stops pointing at the patient (``also``: ids of records that name the
        patient without the link); each chain touched gets an
        ``audit_details_erased`` record listing the places. Return how many were scrubbed."""
        for event in self._staged:  # not sealed yet: nothing to keep of them
            if event.patient_id == patient_id:
                event.patient_id, event.details = None, dict(TOMBSTONE)
        rows = (
            await self.session.execute(
                select(AuditEvent.id, AuditEvent.chain, AuditEvent.seq, AuditEvent.cohort_id)
                .where(
                    or_(AuditEvent.patient_id == patient_id, AuditEvent.id.in_(also)),
                    AuditEvent.seq.is_not(None),
                )
                .order_by(AuditEvent.chain, AuditEvent.seq)
            )
        ).all()
        if not rows:
            return 0
        await self.session.execute(
            update(AuditEvent)
            .where(AuditEvent.id.in_([row.id for row in rows]))
            .values(details=dict(TOMBSTONE), salt=None, patient_id=None)
            .execution_options(synchronize_session=False)
        )
        by_chain: dict[int, tuple[int | None, list[int]]] = {}
        for row in rows:  # every one sealed (selected so)
            by_chain.setdefault(row.chain, (row.cohort_id, []))[1].append(row.seq)
        for chain, (cohort_id, seqs) in sorted(by_chain.items()):
            self.record(
                at=now,
                actor="system",
                action=ERASED_ACTION,
                cohort_id=cohort_id if chain else None,
                details={"seqs": seqs},
            )
        return len(rows)

    async def prune(self, chain: int, before: datetime, now: datetime, limit: int) -> int:
        """Delete the oldest records of a chain up to the first one at or after ``before``
        (at most ``limit``), keep the last deleted place and hash as the chain's anchor and
        record the prune in the chain. Return how many were deleted."""
        if await self.session.get(AuditChain, chain) is None:
            return 0  # a chain with no record yet
        first_kept = await self.session.scalar(
            select(func.min(AuditEvent.seq)).where(
                AuditEvent.chain == chain, AuditEvent.at >= before, AuditEvent.seq.is_not(None)
            )
        )
        head = await self._head(chain)
        start = head.anchor_seq
        through = min(head.seq if first_kept is None else first_kept - 1, start + limit)
        if through <= start:
            return 0
        last = await self.session.scalar(
            select(AuditEvent.hash).where(AuditEvent.chain == chain, AuditEvent.seq == through)
        )
        if last is None:
            return 0  # a broken chain is for `moodcheck audit verify` to report, not to prune
        result = await self.session.execute(
            delete(AuditEvent).where(
                AuditEvent.chain == chain, AuditEvent.seq > start, AuditEvent.seq <= through
            )
        )
        head.anchor_seq, head.anchor_hash = through, last
        self.record(
            at=now,
            actor="system",
            action=PRUNED_ACTION,
            cohort_id=chain or None,
            details={"through": through, "anchor": last},
        )
        return int(getattr(result, "rowcount", 0) or 0)

    async def heads(self) -> Sequence[AuditChain]:
        """Every chain's head, by chain."""
        return (await self.session.scalars(select(AuditChain).order_by(AuditChain.chain))).all()

    async def chains_with_records(self) -> Sequence[int]:
        """Every chain that has records (a record may lack a head if the head was deleted)."""
        return (
            await self.session.scalars(
                select(AuditEvent.chain).distinct().order_by(AuditEvent.chain)
            )
        ).all()

    async def records(self, chain: int) -> AsyncIterator[list[StoredRecord]]:
        """A chain's records in order, in batches: sealed ones by place, unsealed ones last."""
        after = -1
        while True:
            batch = (
                await self.session.scalars(
                    select(AuditEvent)
                    .where(AuditEvent.chain == chain, AuditEvent.seq > after)
                    .order_by(AuditEvent.seq)
                    .limit(READ_BATCH)
                )
            ).all()
            if not batch:
                break
            yield [_stored(event) for event in batch]
            after = batch[-1].seq or after
            self.session.expunge_all()
        unsealed = (
            await self.session.scalars(
                select(AuditEvent)
                .where(AuditEvent.chain == chain, AuditEvent.seq.is_(None))
                .order_by(AuditEvent.id)
            )
        ).all()
        if unsealed:
            yield [_stored(event) for event in unsealed]


def _stored(event: AuditEvent) -> StoredRecord:
    return StoredRecord(
        id=event.id,
        chain=event.chain,
        seq=event.seq,
        at=event.at,
        actor=event.actor,
        action=event.action,
        cohort_id=event.cohort_id,
        patient_id=event.patient_id,
        details=event.details,
        salt=event.salt,
        subject=event.subject,
        prev_hash=event.prev_hash,
        hash=event.hash,
    )
