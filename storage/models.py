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
    UniqueConstraint,
    false,
)
from sqlalchemy.ext.asyncio import AsyncAttrs
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from bot.domain.lifecycle import AlertStatus, PatientState, PatientStatus, Transition, UsualTime
from storage.crypto import EncryptedJSON, EncryptedText
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
    now: the same, or the supergroup Telegram moved it to
    (bot.services.provider.provider_channel)."""
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
    dosing_days: Mapped[str | None] = mapped_column(String(32))
    """Local dose weekdays set by a provider (``mon,thu``); None: no dosing schedule."""
    dosing_time: Mapped[str | None] = mapped_column(String(5))
    """Local wall-clock time of the dose, HH:MM (bot.domain.dosing: DST-safe)."""
    dosing_since: Mapped[datetime | None]
    """When the schedule was set: doses before it get no post-dose check."""
    course_started_on: Mapped[date | None] = mapped_column(Date)
    """The local day the current treatment course began (``/course LABEL start``); None: the
    course is the one the patient enrolled in
    (bot.services.checkin.courses.current_course_start)."""
    optional_items: Mapped[str | None] = mapped_column(String(64))
    """Optional items turned on by a provider (``bp,substance,...``: bot.domain.optional_items);
    None: the cohort's default."""

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


class SideCheck(Base):
    """A short check asked apart from the daily check-in: the post-dose check after a
    scheduled dose, or the day's optional items (home BP, substance use, bladder screen).

    Kept apart from ``checkins`` on purpose: the daily rules (baselines, missed streaks,
    adherence) count one daily check-in per day and must not see these.
    """

    __tablename__ = "side_checks"
    __table_args__ = (UniqueConstraint("patient_id", "kind", "local_date"),)

    id: Mapped[int] = mapped_column(BigIntId, primary_key=True)
    patient_id: Mapped[int] = mapped_column(ForeignKey("patients.id"))
    kind: Mapped[str] = mapped_column(String(16))
    """post_dose | optional."""
    local_date: Mapped[date] = mapped_column(Date)
    """The dose's local date (post-dose), or the day (optional items)."""
    items: Mapped[dict[str, Any]]
    """``{"ids": [...]}``: the questionnaire items this check asks, in order."""
    answers: Mapped[dict[str, Any]]
    """Item id -> stored value (a multi-select's values joined by commas)."""
    draft: Mapped[dict[str, Any] | None]
    """The boxes ticked so far on a multi-select item."""
    position: Mapped[int] = mapped_column(SmallInteger, default=0)
    status: Mapped[str] = mapped_column(String(16))
    """open | answered | stopped | missed."""
    message_id: Mapped[int | None] = mapped_column(BigInteger)
    opened_at: Mapped[datetime]
    closes_at: Mapped[datetime] = mapped_column(index=True)
    completed_at: Mapped[datetime | None]


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
    item: Mapped[str | None] = mapped_column(String(32))
    """The id of the item being asked (``prompts/questionnaires``); None when nothing is left
    to ask. An id, not a position, so that a question added to the file while the check-in
    is open does not move it (docs/architecture.md, "Questions are addressed by id")."""
    message_id: Mapped[int | None] = mapped_column(BigInteger)
    opened_at: Mapped[datetime]
    closes_at: Mapped[datetime] = mapped_column(index=True)
    completed_at: Mapped[datetime | None]
    reminded_at: Mapped[datetime | None]
    draft: Mapped[dict[str, Any] | None]
    """Work in progress on the current item: ``{"item": id, "selected": [values]}``, the
    boxes ticked on a multi-select."""
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
    body: Mapped[str | None] = mapped_column(EncryptedText())
    """The text, when there is one; encrypted at rest (storage/crypto.py)."""
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
    event gone; see PatientHistoryQueries.erase)."""
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
    checklist button, ``bot.services.follow_ups``): one row per event and action."""

    __tablename__ = "alert_follow_ups"
    __table_args__ = (UniqueConstraint("head_id", "action"),)

    id: Mapped[int] = mapped_column(BigIntId, primary_key=True)
    head_id: Mapped[int] = mapped_column(ForeignKey("alerts.id", ondelete="CASCADE"))
    patient_id: Mapped[int] = mapped_column(ForeignKey("patients.id"), index=True)
    action: Mapped[str] = mapped_column(String(32))
    """A key of ``prompts/follow_ups.yaml`` (its words are there, per locale)."""
    by_user_id: Mapped[int] = mapped_column(BigInteger)
    at: Mapped[datetime]


class TeamPost(Base):
    """A group message about one patient that a provider may answer with Telegram's reply:
    a notice that the patient wrote, or a relayed reply (alerts: ``alert_posts``)."""

    __tablename__ = "team_posts"

    id: Mapped[int] = mapped_column(BigIntId, primary_key=True)
    patient_id: Mapped[int] = mapped_column(ForeignKey("patients.id"), index=True)
    outbox_id: Mapped[int] = mapped_column(
        ForeignKey("outbox.id", ondelete="CASCADE"), unique=True
    )


class TeamMessage(Base):
    """A care team's message to a patient (``bot.services.provider.team_messages``): drafted by a
    provider's reply in the group, sent once they confirm, and the patient's next text
    relayed back while ``relay_until`` has not passed."""

    __tablename__ = "team_messages"

    id: Mapped[int] = mapped_column(BigIntId, primary_key=True)
    cohort_id: Mapped[int] = mapped_column(ForeignKey("cohorts.id"))
    patient_id: Mapped[int] = mapped_column(ForeignKey("patients.id"), index=True)
    author_user_id: Mapped[int] = mapped_column(BigInteger)
    body: Mapped[str] = mapped_column(EncryptedText())
    """The provider's words to the patient. Encrypted at rest as patients' free text is
    (storage/crypto.py); the patient's relayed reply is a ``patient_messages`` row."""
    status: Mapped[str] = mapped_column(String(16))
    """draft -> sent | cancelled | refused (the patient left before the confirmation)."""
    created_at: Mapped[datetime]
    decided_at: Mapped[datetime | None]
    relay_until: Mapped[datetime | None]
    """Until when the patient's next text goes back to the group as the reply."""
    reply_message_id: Mapped[int | None] = mapped_column(ForeignKey("patient_messages.id"))
    """The patient's text relayed as the reply (once relayed, the relay is over)."""


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


__all__ = [
    "Alert",
    "AlertFollowUp",
    "AlertPost",
    "Answer",
    "AuditChain",
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
    "SideCheck",
    "TeamMessage",
    "TeamPost",
]
