"""What one transaction says: templates rendered in the right language and queued in the
outbox with the right priority, in the caller's unit of work (docs/architecture.md,
principles 2 and 5). The row layer underneath is ``bot/services/outbox.py``; crisis cards are
built by ``bot/services/alerts/crisis_card.py`` and queued like any text."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from bot.services.outbox import (
    Keyboard,
    OnSent,
    Priority,
    queue_edit,
    queue_send,
    reply_priority,
)
from prompts.render import Renderer
from storage.models import Cohort, Patient
from storage.uow import UnitOfWork


@dataclass(frozen=True, slots=True)
class Outbound:
    """Renders and queues the messages of one transaction (``Runtime.outbound``)."""

    uow: UnitOfWork
    now: datetime
    renderer: Renderer

    async def to_patient(
        self,
        patient: Patient,
        template: str,
        *,
        priority: Priority = Priority.INTERACTIVE,
        keyboard: Keyboard | None = None,
        dedup_key: str | None = None,
        **values: Any,
    ) -> bool:
        """A new message to a patient, in their language (False: the dedup key was used)."""
        return await queue_send(
            self.uow,
            now=self.now,
            chat_id=patient.chat_id,
            priority=priority,
            text=self.renderer.render(template, patient.locale, **values),
            keyboard=keyboard,
            dedup_key=dedup_key,
            patient_id=patient.id,
        )

    async def edit_patient(
        self,
        patient: Patient,
        message_id: int,
        template: str,
        *,
        keyboard: Keyboard | None = None,
        priority: Priority | None = None,
        **values: Any,
    ) -> None:
        """Edit one of the patient's messages (without a keyboard its buttons go); the
        priority of a reply unless given."""
        await queue_edit(
            self.uow,
            now=self.now,
            chat_id=patient.chat_id,
            message_id=message_id,
            text=self.renderer.render(template, patient.locale, **values),
            keyboard=keyboard,
            priority=priority,
            patient_id=patient.id,
        )

    async def question(
        self,
        patient: Patient,
        checkin_id: int,
        asked: tuple[str, Keyboard],
        *,
        priority: Priority = Priority.INTERACTIVE,
    ) -> None:
        """A check-in question in a new message: ``asked`` is its text and buttons, rendered
        by ``bot/services/views.py``. Once it is sent, the check-in records the message's id
        (``OnSent.CHECKIN_MESSAGE``): its answers are taken from that message."""
        text, keyboard = asked
        await queue_send(
            self.uow,
            now=self.now,
            chat_id=patient.chat_id,
            priority=priority,
            text=text,
            keyboard=keyboard,
            on_sent=OnSent.CHECKIN_MESSAGE,
            ref_id=checkin_id,
            patient_id=patient.id,
        )

    async def show_question(
        self, patient: Patient, message_id: int, asked: tuple[str, Keyboard]
    ) -> None:
        """Edit a check-in message to ask another question (``asked`` as for ``question``)."""
        text, keyboard = asked
        await queue_edit(
            self.uow,
            now=self.now,
            chat_id=patient.chat_id,
            message_id=message_id,
            text=text,
            keyboard=keyboard,
            patient_id=patient.id,
        )

    async def reply(
        self, chat_id: int, template: str, locale: str, *, enrolled: bool = True, **values: Any
    ) -> None:
        """A reply to someone's message or command, at the reply's priority
        (:func:`bot.services.outbox.reply_priority`)."""
        await queue_send(
            self.uow,
            now=self.now,
            chat_id=chat_id,
            priority=reply_priority(chat_id, enrolled=enrolled),
            text=self.renderer.render(template, locale, **values),
        )

    async def to_group(
        self,
        cohort: Cohort,
        template: str,
        *,
        dedup_key: str | None = None,
        about: Patient | None = None,
        **values: Any,
    ) -> bool:
        """A notice to the cohort's provider group, in the cohort's language (alerts go
        through ``bot/services/alerts/announcer.py``); ``about``: the one patient it is about, so
        that erasing them finds it (docs/privacy.md)."""
        return await queue_send(
            self.uow,
            now=self.now,
            chat_id=cohort.provider_chat_id,
            priority=Priority.NOTICE,
            dedup_key=dedup_key,
            text=self.renderer.render(template, cohort.locale, **values),
            patient_id=about.id if about is not None else None,
        )
