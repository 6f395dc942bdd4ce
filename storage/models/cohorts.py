"""Cohorts (a provider group each) and the providers on call for one."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, ForeignKey, SmallInteger, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from storage.models.base import Base
from storage.types import BigIntId


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
