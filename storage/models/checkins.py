"""Daily check-ins and their answers, and the side checks asked apart from them."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Date,
    ForeignKey,
    Index,
    Integer,
    SmallInteger,
    String,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from storage.models.base import Base
from storage.types import BigIntId


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
    change counter that nothing in the code reads or compares. It guards nothing: replays and
    double taps are handled by ``processed_updates`` and the unique answer per item,
    concurrent taps by each chat's order (docs/architecture.md, principle 3) and the row lock
    a tap takes on PostgreSQL (``CheckinRepository.with_patient``); see docs/architecture.md,
    "Storage: repositories, read models and the unit of work"."""


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
