"""The care team's conversation with a patient: group messages a provider may reply to, and
the team's messages to the patient."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from storage.crypto import EncryptedText
from storage.models.base import Base
from storage.types import BigIntId


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
