"""What passes between the bot and Telegram: the Bot API calls queued in the outbox, and the
updates already handled."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    ForeignKey,
    Index,
    Integer,
    SmallInteger,
    String,
)
from sqlalchemy.orm import Mapped, mapped_column

from storage.crypto import EncryptedJSON
from storage.models.base import Base
from storage.types import BigIntId


class OutboxMessage(Base):
    """A Bot API call to make, written in the transaction that decided to make it."""

    __tablename__ = "outbox"
    __table_args__ = (
        Index("ix_outbox_queue", "status", "priority", "id"),
        Index("ix_outbox_chat_queue", "chat_id", "status", "id"),
        CheckConstraint("priority >= 0", name="priority_non_negative"),
    )

    id: Mapped[int] = mapped_column(BigIntId, primary_key=True)
    dedup_key: Mapped[str | None] = mapped_column(String(128), unique=True)
    chat_id: Mapped[int] = mapped_column(BigInteger)
    method: Mapped[str] = mapped_column(String(32))
    payload: Mapped[dict[str, Any]] = mapped_column(EncryptedJSON())
    """The Bot API call's parameters. Encrypted at rest: they may quote a patient (a shared
    message, a crisis alert's words, a /messages reading, a /mydata file)."""
    priority: Mapped[int] = mapped_column(SmallInteger)
    """0 is most urgent (crisis cards, IMMEDIATE alerts); see bot.services.outbox.Priority."""
    status: Mapped[str] = mapped_column(String(16))
    """pending | sent | failed | dead | cancelled."""
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime]
    lease_until: Mapped[datetime | None]
    created_at: Mapped[datetime]
    sent_at: Mapped[datetime | None]
    last_error: Mapped[str | None] = mapped_column(String(200))
    telegram_message_id: Mapped[int | None] = mapped_column(BigInteger)
    on_sent: Mapped[str | None] = mapped_column(String(32))
    """What to record once sent, e.g. the check-in message id."""
    ref_id: Mapped[int | None] = mapped_column(BigInteger)
    patient_id: Mapped[int | None] = mapped_column(ForeignKey("patients.id"), index=True)
    """The patient the message is to or about (group notices included): erasure finds it."""


class ProcessedUpdate(Base):
    """A Telegram update already handled: replays change nothing."""

    __tablename__ = "processed_updates"

    update_id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    processed_at: Mapped[datetime] = mapped_column(index=True)
    patient_id: Mapped[int | None] = mapped_column(ForeignKey("patients.id"), index=True)
    """The patient whose update it was (set at commit, storage.uow): erasure finds it."""
