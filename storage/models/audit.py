"""The audit trail: hash-chained records, and the head of each chain."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from storage.models.base import Base
from storage.types import BigIntId


class AuditEvent(Base):
    """Who did what, when. Never free text or names: ids, labels and event names only.

    Append-only and hash-chained, one chain per cohort (bot/domain/audit_chain.py): the
    unit of work gives each new record its place and hash when it commits."""

    __tablename__ = "audit_events"
    __table_args__ = (UniqueConstraint("chain", "seq"),)

    id: Mapped[int] = mapped_column(BigIntId, primary_key=True)
    at: Mapped[datetime] = mapped_column(index=True)
    actor: Mapped[str] = mapped_column(String(64))
    action: Mapped[str] = mapped_column(String(64))
    cohort_id: Mapped[int | None] = mapped_column(ForeignKey("cohorts.id"))
    patient_id: Mapped[int | None] = mapped_column(ForeignKey("patients.id"))
    details: Mapped[dict[str, Any]]
    chain: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
    """The cohort's id; 0 for records of no cohort."""
    seq: Mapped[int | None] = mapped_column(BigInteger)
    """Place in the chain (1, 2, ...); None only inside the transaction that writes it."""
    salt: Mapped[str | None] = mapped_column(String(32))
    """Random salt of the subject digest; deleted when the record's details are erased."""
    subject: Mapped[str | None] = mapped_column(String(64))
    """Salted SHA-256 of ``patient_id`` and ``details``."""
    prev_hash: Mapped[str | None] = mapped_column(String(64))
    hash: Mapped[str | None] = mapped_column(String(64))


class AuditChain(Base):
    """The head of one audit chain (its last place and hash) and its prune anchor."""

    __tablename__ = "audit_chains"

    chain: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    seq: Mapped[int] = mapped_column(BigInteger, default=0)
    hash: Mapped[str] = mapped_column(String(64))
    anchor_seq: Mapped[int] = mapped_column(BigInteger, default=0)
    """The last pruned place (0: nothing pruned)."""
    anchor_hash: Mapped[str] = mapped_column(String(64))
    """The hash of the last pruned record: the first remaining record's ``prev_hash``."""
