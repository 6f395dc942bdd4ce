"""The database schema (SQLAlchemy 2, typed with Mapped[]).

Unique constraints carry the product's promises: one check-in per patient per local date, one
answer per check-in and item, one outbox message per dedup key, one row per processed update.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    CheckConstraint,
    Date,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    SmallInteger,
    String,
    Text,
    UniqueConstraint,
    false,
)
from sqlalchemy.ext.asyncio import AsyncAttrs
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from bot.domain.lifecycle import AlertStatus, PatientState, PatientStatus, Transition, UsualTime
from storage.types import BigIntId, UTCDateTime, status_type

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(AsyncAttrs, DeclarativeBase):
    """Declarative base with stable constraint names (Alembic needs them)."""

    metadata = MetaData(naming_convention=NAMING)
    type_annotation_map = {datetime: UTCDateTime(), dict[str, Any]: JSON()}


class Cohort(Base):
    """A provider group with its patients; declared in the TOML config, mirrored here."""

    __tablename__ = "cohorts"

    id: Mapped[int] = mapped_column(BigIntId, primary_key=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    provider_chat_id: Mapped[int] = mapped_column(BigInteger)
    timezone: Mapped[str] = mapped_column(String(64))
    locale: Mapped[str] = mapped_column(String(8))
    region: Mapped[str] = mapped_column(String(8))
    questionnaire: Mapped[str] = mapped_column(String(64))
    checkin_window_hours: Mapped[int | None] = mapped_column(SmallInteger)
    """None: a check-in stays open until the end of the patient's local day."""
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]
    configured_chat_id: Mapped[int | None] = mapped_column(BigInteger)
    """The group id the configuration file gives. ``provider_chat_id`` is where the group is
    now: the same, or the supergroup Telegram moved it to (bot.services.provider_channel)."""
    group_unreachable_since: Mapped[datetime | None]
    """Set while the bot cannot post in the group (removed, restricted): alerts are kept and
    IMMEDIATE/URGENT ones go to the on-call providers' private chats."""
    group_unreachable_reason: Mapped[str | None] = mapped_column(String(64))


class OnCallProvider(Base):
    """A provider who asked (``/oncall`` in the group) to get IMMEDIATE and URGENT alerts in
    their private chat while the bot cannot post in the group."""

    __tablename__ = "oncall_providers"
    __table_args__ = (UniqueConstraint("cohort_id", "telegram_user_id"),)

    id: Mapped[int] = mapped_column(BigIntId, primary_key=True)
    cohort_id: Mapped[int] = mapped_column(ForeignKey("cohorts.id"))
    telegram_user_id: Mapped[int] = mapped_column(BigInteger)
    created_at: Mapped[datetime]


class Invite(Base):
    """A single-use enrolment code, stored only as its hash."""

    __tablename__ = "invites"

    id: Mapped[int] = mapped_column(BigIntId, primary_key=True)
    cohort_id: Mapped[int] = mapped_column(ForeignKey("cohorts.id"), index=True)
    label: Mapped[str] = mapped_column(String(16))
    code_hash: Mapped[str] = mapped_column(String(64), unique=True)
    status: Mapped[str] = mapped_column(String(16))
    """open -> claimed (consent shown) -> accepted | declined."""
    claimed_by_user_id: Mapped[int | None] = mapped_column(BigInteger)
    created_by: Mapped[str] = mapped_column(String(32))
    created_at: Mapped[datetime]
    expires_at: Mapped[datetime]
    used_at: Mapped[datetime | None]
    patient_id: Mapped[int | None] = mapped_column(ForeignKey("patients.id"), index=True)
    """The patient who accepted it: the invite carries their label, so erasure must find it."""


class Patient(Base):
    """An enrolled patient. The provider side only ever sees ``label``."""

    __tablename__ = "patients"
    __table_args__ = (UniqueConstraint("cohort_id", "label"),)

    id: Mapped[int] = mapped_column(BigIntId, primary_key=True)
    cohort_id: Mapped[int] = mapped_column(ForeignKey("cohorts.id"))
    label: Mapped[str] = mapped_column(String(16))
    telegram_user_id: Mapped[int] = mapped_column(BigInteger, unique=True)
    chat_id: Mapped[int] = mapped_column(BigInteger)
    status: Mapped[PatientStatus] = mapped_column(status_type(PatientStatus))
    """Moves only through bot/domain/lifecycle.py (see :meth:`move`)."""
    locale: Mapped[str] = mapped_column(String(8))
    timezone: Mapped[str] = mapped_column(String(64))
    checkin_time: Mapped[str] = mapped_column(String(5))
    """Local wall-clock time of the daily prompt, HH:MM."""
    region: Mapped[str | None] = mapped_column(String(8))
    """The crisis card's region (prompts/regions.yaml): set from the time zone at onboarding,
    changeable in /settings. None: the region the time zone gives, else the cohort's."""
    next_prompt_at: Mapped[datetime | None] = mapped_column(index=True)
    consented_at: Mapped[datetime]
    unreachable_since: Mapped[datetime | None]
    paused_until: Mapped[datetime | None] = mapped_column(index=True)
    status_before_unreachable: Mapped[PatientStatus | None] = mapped_column(
        status_type(PatientStatus)
    )
    """While unreachable: the status to go back to when they write again (active or paused)."""
    withdrawn_at: Mapped[datetime | None]
    discharged_at: Mapped[datetime | None]
    awaiting: Mapped[str | None] = mapped_column(String(32))
    """What typed text from this patient means right now (e.g. a time zone being set);
    None: free text."""
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]

    def lifecycle(self) -> PatientState:
        """The row's lifecycle columns, for the pure moves of bot/domain/lifecycle.py."""
        return PatientState(
            status=PatientStatus(self.status),
            paused_until=self.paused_until,
            status_before_unreachable=self.status_before_unreachable,
            unreachable_since=self.unreachable_since,
            next_prompt_at=self.next_prompt_at,
            withdrawn_at=self.withdrawn_at,
            discharged_at=self.discharged_at,
        )

    def usual_time(self) -> UsualTime:
        """When the patient is prompted, for the moves that plan the next prompt."""
        return UsualTime(self.checkin_time, self.timezone)

    def move(self, transition: Transition, now: datetime) -> None:
        """Write a move's changes onto the row (the one place a patient's status is set)."""
        for column, value in transition.changes().items():
            setattr(self, column, value)
        if transition.clears_awaiting:
            self.awaiting = None
        self.updated_at = now


class Checkin(Base):
    """One day's check-in for one patient."""

    __tablename__ = "checkins"
    __table_args__ = (
        UniqueConstraint("patient_id", "local_date"),
        # The window scan looks for open check-ins whose window has ended; closes_at alone
        # walks every past check-in (docs/performance.md, "Figures behind constants").
        Index("ix_checkins_status_closes_at", "status", "closes_at"),
    )

    id: Mapped[int] = mapped_column(BigIntId, primary_key=True)
    patient_id: Mapped[int] = mapped_column(ForeignKey("patients.id"))
    local_date: Mapped[date] = mapped_column(Date)
    timezone: Mapped[str] = mapped_column(String(64))
    questionnaire: Mapped[str] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(16))
    position: Mapped[int] = mapped_column(SmallInteger, default=0)
    """Index of the item being asked; equal to the item count when done."""
    message_id: Mapped[int | None] = mapped_column(BigInteger)
    opened_at: Mapped[datetime]
    closes_at: Mapped[datetime] = mapped_column(index=True)
    completed_at: Mapped[datetime | None]
    reminded_at: Mapped[datetime | None]
    draft: Mapped[dict[str, Any] | None]
    """Work in progress on the current item (the boxes ticked on a multi-select)."""
    version: Mapped[int] = mapped_column(Integer, default=0)
    """How many times taps, typed notes and the closing of a weekly part changed the row: a
    change counter for support and debugging. Nothing compares it: replays and double taps
    are handled by ``processed_updates`` and the unique answer per item, concurrent taps by
    each chat's order (docs/architecture.md, principle 3) and, on PostgreSQL, the row lock
    a tap takes (``CheckinRepository.with_patient``)."""


class Answer(Base):
    """One stored answer; a missing answer is a missing row, never a zero."""

    __tablename__ = "answers"
    __table_args__ = (UniqueConstraint("checkin_id", "item_id"),)

    id: Mapped[int] = mapped_column(BigIntId, primary_key=True)
    checkin_id: Mapped[int] = mapped_column(ForeignKey("checkins.id"))
    item_id: Mapped[str] = mapped_column(String(32))
    value: Mapped[str] = mapped_column(String(255))
    """One option value, or several joined by commas for a multi-select."""
    answered_at: Mapped[datetime]


class PatientMessage(Base):
    """Something a patient wrote or sent that is not an answer, kept for the care team."""

    __tablename__ = "patient_messages"

    id: Mapped[int] = mapped_column(BigIntId, primary_key=True)
    patient_id: Mapped[int] = mapped_column(ForeignKey("patients.id"), index=True)
    received_at: Mapped[datetime]
    kind: Mapped[str] = mapped_column(String(16))
    """text | sticker | photo | voice | location | other."""
    body: Mapped[str | None] = mapped_column(Text)
    """The text, when there is one (encrypted at rest when a key is configured)."""
    crisis: Mapped[bool] = mapped_column(default=False)
    """Crisis words were found in it."""


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
    event gone; see PatientDataRepository.erase)."""
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
    details: Mapped[dict[str, Any] | None]
    """What fired the alert, locale-free (the answer, the values and baseline of a rule, a
    pause's end): the group message, /alerts, /patient and the digest show it."""


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
    payload: Mapped[dict[str, Any]]
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


class Confirmation(Base):
    """A destructive step a patient was asked to confirm (/delete, /stop): the button's
    token, stored as its hash, good once, for one patient and one message, for 10 minutes."""

    __tablename__ = "confirmations"

    id: Mapped[int] = mapped_column(BigIntId, primary_key=True)
    patient_id: Mapped[int] = mapped_column(ForeignKey("patients.id"), index=True)
    action: Mapped[str] = mapped_column(String(16))
    step: Mapped[int] = mapped_column(SmallInteger, default=0)
    """The steps confirmed so far: a press must be the next one (/delete asks twice)."""
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    outbox_id: Mapped[int | None] = mapped_column(ForeignKey("outbox.id", ondelete="SET NULL"))
    """The message that asked: the token is good only on it (its Telegram id, once sent)."""
    created_at: Mapped[datetime]
    expires_at: Mapped[datetime]
    used_at: Mapped[datetime | None]


class AuditEvent(Base):
    """Who did what, when. Never free text or names: ids, labels and event names only."""

    __tablename__ = "audit_events"

    id: Mapped[int] = mapped_column(BigIntId, primary_key=True)
    at: Mapped[datetime] = mapped_column(index=True)
    actor: Mapped[str] = mapped_column(String(64))
    action: Mapped[str] = mapped_column(String(64))
    cohort_id: Mapped[int | None] = mapped_column(ForeignKey("cohorts.id"))
    patient_id: Mapped[int | None] = mapped_column(ForeignKey("patients.id"))
    details: Mapped[dict[str, Any]]


__all__ = [
    "Alert",
    "AlertPost",
    "Answer",
    "AuditEvent",
    "Base",
    "Checkin",
    "Cohort",
    "Confirmation",
    "Invite",
    "OnCallProvider",
    "OutboxMessage",
    "Patient",
    "PatientMessage",
    "ProcessedUpdate",
]
