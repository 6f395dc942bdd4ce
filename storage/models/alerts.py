"""Alerts for the care team, the group messages that show them, and the follow-ups
recorded on them."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, ForeignKey, Index, SmallInteger, String, UniqueConstraint, false
from sqlalchemy.orm import Mapped, mapped_column

from bot.domain.lifecycle import AlertStatus
from storage.crypto import EncryptedJSON
from storage.models.base import Base
from storage.types import BigIntId, status_type


class Alert(Base):
    """An escalation for the care team."""

    __tablename__ = "alerts"
    __table_args__ = (
        # Events waiting for room in their group (group_message_id NULL, head_id set): the
        # announcer looks every few seconds, among every alert ever stored.
        Index("ix_alerts_waiting", "group_message_id", "head_id"),
    )

    id: Mapped[int] = mapped_column(BigIntId, primary_key=True)
    cohort_id: Mapped[int] = mapped_column(ForeignKey("cohorts.id"))
    patient_id: Mapped[int | None] = mapped_column(ForeignKey("patients.id"), index=True)
    """None once the patient's data was erased: the alert stays, for the clinic's counts
    (outcomes, metrics), without anything that leads to the person (details, check-in and
    event gone; see ErasureRepository.erase)."""
    checkin_id: Mapped[int | None] = mapped_column(ForeignKey("checkins.id"))
    rule: Mapped[str] = mapped_column(String(64))
    tier: Mapped[str] = mapped_column(String(16))
    status: Mapped[AlertStatus] = mapped_column(status_type(AlertStatus))
    """Moves through bot/domain/lifecycle.py (acknowledge, resolve)."""
    dedup_key: Mapped[str] = mapped_column(String(128), unique=True)
    event_key: Mapped[str | None] = mapped_column(String(64))
    """The event the alert is about (e.g. ``checkin:42``): a rule never fires twice for it."""
    created_at: Mapped[datetime]
    group_message_id: Mapped[int | None] = mapped_column(BigInteger)
    """The provider-group message that shows this alert (for editing on acknowledge)."""
    reraised_count: Mapped[int] = mapped_column(SmallInteger, default=0, server_default="0")
    next_reraise_at: Mapped[datetime | None] = mapped_column(index=True)
    after_hours: Mapped[bool] = mapped_column(default=False, server_default=false())
    acknowledged_at: Mapped[datetime | None]
    acknowledged_by: Mapped[int | None] = mapped_column(BigInteger)
    resolved_at: Mapped[datetime | None]
    resolved_by: Mapped[int | None] = mapped_column(BigInteger)
    head_id: Mapped[int | None] = mapped_column(BigInteger, index=True)
    """The event's head alert (its most urgent; itself for the head). Set on the alerts that
    are announced; a head without a group message is waiting for the group's budget."""
    acknowledged_by_name: Mapped[str | None] = mapped_column(String(64))
    """The provider's first name, shown whenever a message listing the event is re-rendered."""
    resolved_by_name: Mapped[str | None] = mapped_column(String(64))
    details: Mapped[dict[str, Any] | None] = mapped_column(EncryptedJSON())
    """What fired the alert, locale-free (the answer, the values and baseline of a rule, a
    pause's end): the group message, /alerts, /patient and the digest show it. Encrypted at
    rest: a crisis alert quotes the patient's words."""


class AlertPost(Base):
    """A group message that shows an alert event: its announcement (step 0) or a re-raise.

    One message may show several events (a coalesced burst), so a press is checked against
    these rows, and an edit re-renders every event a message shows.
    """

    __tablename__ = "alert_posts"
    __table_args__ = (UniqueConstraint("head_id", "step"),)

    id: Mapped[int] = mapped_column(BigIntId, primary_key=True)
    head_id: Mapped[int] = mapped_column(ForeignKey("alerts.id", ondelete="CASCADE"))
    step: Mapped[int] = mapped_column(SmallInteger)
    outbox_id: Mapped[int] = mapped_column(ForeignKey("outbox.id", ondelete="CASCADE"), index=True)


class AlertFollowUp(Base):
    """A follow-up action a provider recorded on an IMMEDIATE or URGENT alert event (a
    checklist button, ``bot.services.alerts.alert_actions``): one row per event and action."""

    __tablename__ = "alert_follow_ups"
    __table_args__ = (UniqueConstraint("head_id", "action"),)

    id: Mapped[int] = mapped_column(BigIntId, primary_key=True)
    head_id: Mapped[int] = mapped_column(ForeignKey("alerts.id", ondelete="CASCADE"))
    patient_id: Mapped[int] = mapped_column(ForeignKey("patients.id"), index=True)
    action: Mapped[str] = mapped_column(String(32))
    """A key of ``prompts/follow_ups.yaml`` (its words are there, per locale)."""
    by_user_id: Mapped[int] = mapped_column(BigInteger)
    at: Mapped[datetime]
