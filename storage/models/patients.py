"""Patients: the invite that enrolled them, their row, what they wrote, and the destructive
steps they were asked to confirm."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import BigInteger, Date, ForeignKey, SmallInteger, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from bot.domain.lifecycle import PatientState, PatientStatus, Transition, UsualTime
from storage.crypto import EncryptedText
from storage.models.base import Base
from storage.types import BigIntId, status_type


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
