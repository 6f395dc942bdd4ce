"""What one transaction says: templates rendered in the right language and queued in the
outbox with the right priority, in the caller's unit of work (docs/architecture.md,
principles 2 and 5). Services queue their messages through here; the row layer underneath is
``bot/services/outbox.py`` (used directly to build rows in bulk: the due scan's prompts, the
digest's message and files). Crisis cards are built by
``bot/services/alerts/crisis_card.py`` and queued here like any composed text.

Two kinds of front: ``to_patient``, ``edit_patient``, ``reply`` and ``to_group`` render a
template; the ``text_to_*`` and ``edit_*`` ones queue text a caller composed (a question with
its buttons, a card, an alert message, a preview measured before it is sent).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from bot.services.outbox import (
    Keyboard,
    OnSent,
    Priority,
    queue_document,
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

    # --- to a patient -------------------------------------------------------------------

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
        return await self.text_to_patient(
            patient,
            self.renderer.render(template, patient.locale, **values),
            priority=priority,
            keyboard=keyboard,
            dedup_key=dedup_key,
        )

    async def text_to_patient(
        self,
        patient: Patient,
        text: str,
        *,
        priority: Priority = Priority.INTERACTIVE,
        keyboard: Keyboard | None = None,
        dedup_key: str | None = None,
        on_sent: str | None = None,
        ref_id: int | None = None,
    ) -> bool:
        """A new message to a patient, composed by the caller; ``on_sent``/``ref_id``: what
        delivery records once it is sent (:class:`bot.services.outbox.OnSent`) (False: the
        dedup key was used)."""
        return await queue_send(
            self.uow,
            now=self.now,
            chat_id=patient.chat_id,
            priority=priority,
            text=text,
            keyboard=keyboard,
            dedup_key=dedup_key,
            on_sent=on_sent,
            ref_id=ref_id,
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
        """Edit one of the patient's messages (without a keyboard its buttons go)."""
        await self.edit_patient_text(
            patient,
            message_id,
            self.renderer.render(template, patient.locale, **values),
            keyboard=keyboard,
            priority=priority,
        )

    async def edit_patient_text(
        self,
        patient: Patient,
        message_id: int,
        text: str,
        *,
        keyboard: Keyboard | None = None,
        priority: Priority | None = None,
    ) -> None:
        """Edit one of the patient's messages to a text composed by the caller (without a
        keyboard its buttons go). Default priority: a reply's."""
        await queue_edit(
            self.uow,
            now=self.now,
            chat_id=patient.chat_id,
            message_id=message_id,
            text=text,
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
        await self.text_to_patient(
            patient,
            text,
            priority=priority,
            keyboard=keyboard,
            on_sent=OnSent.CHECKIN_MESSAGE,
            ref_id=checkin_id,
        )

    async def show_question(
        self, patient: Patient, message_id: int, asked: tuple[str, Keyboard]
    ) -> None:
        """Edit a check-in message to ask another question (``asked`` as for ``question``)."""
        text, keyboard = asked
        await self.edit_patient_text(patient, message_id, text, keyboard=keyboard)

    async def document_to_patient(
        self, patient: Patient, content: bytes, filename: str, caption: str
    ) -> None:
        """A small file made by the bot for the patient (their data export), at a reply's
        priority."""
        await queue_document(
            self.uow,
            now=self.now,
            chat_id=patient.chat_id,
            content=content,
            filename=filename,
            caption=caption,
            patient_id=patient.id,
        )

    # --- to whoever is in a chat ----------------------------------------------------------

    async def reply(
        self, chat_id: int, template: str, locale: str, *, enrolled: bool = True, **values: Any
    ) -> None:
        """A reply to someone's message or command, at the reply's priority
        (:func:`bot.services.outbox.reply_priority`)."""
        await self.text_to_chat(
            chat_id,
            self.renderer.render(template, locale, **values),
            priority=reply_priority(chat_id, enrolled=enrolled),
        )

    async def text_to_chat(
        self,
        chat_id: int,
        text: str,
        *,
        priority: Priority,
        keyboard: Keyboard | None = None,
        dedup_key: str | None = None,
    ) -> bool:
        """A message composed by the caller to a chat that is not a known patient's (someone
        not enrolled yet, an on-call provider): no patient is linked to it (False: the dedup
        key was used)."""
        return await queue_send(
            self.uow,
            now=self.now,
            chat_id=chat_id,
            priority=priority,
            text=text,
            keyboard=keyboard,
            dedup_key=dedup_key,
        )

    async def edit_chat(
        self, chat_id: int, message_id: int, text: str, *, keyboard: Keyboard | None = None
    ) -> None:
        """Edit a message in a chat that is not a known patient's, at a reply's priority."""
        await queue_edit(
            self.uow,
            now=self.now,
            chat_id=chat_id,
            message_id=message_id,
            text=text,
            keyboard=keyboard,
        )

    # --- to a cohort's provider group ---------------------------------------------------

    async def to_group(
        self,
        cohort: Cohort,
        template: str,
        *,
        dedup_key: str | None = None,
        about: Patient | None = None,
        reply_to: int | None = None,
        **values: Any,
    ) -> bool:
        """A notice to the cohort's provider group, in the cohort's language; ``about``: the
        one patient it is about, so that erasing them finds it (docs/privacy.md);
        ``reply_to``: the group's message it answers (False: the dedup key was used)."""
        return await self.text_to_group(
            cohort,
            self.renderer.render(template, cohort.locale, **values),
            dedup_key=dedup_key,
            about=about,
            reply_to=reply_to,
        )

    async def text_to_group(
        self,
        cohort: Cohort,
        text: str,
        *,
        priority: Priority = Priority.NOTICE,
        keyboard: Keyboard | None = None,
        dedup_key: str | None = None,
        about: Patient | None = None,
        reply_to: int | None = None,
        on_sent: str | None = None,
        ref_id: int | None = None,
    ) -> bool:
        """A message composed by the caller to the cohort's provider group (an alert, a
        draft's preview, a patient's message). Only alerts go above NOTICE there
        (:class:`bot.services.outbox.Priority`); ``on_sent``/``ref_id``: what delivery
        records once it is sent (:class:`bot.services.outbox.OnSent`)."""
        return await queue_send(
            self.uow,
            now=self.now,
            chat_id=cohort.provider_chat_id,
            priority=priority,
            text=text,
            keyboard=keyboard,
            dedup_key=dedup_key,
            on_sent=on_sent,
            ref_id=ref_id,
            patient_id=about.id if about is not None else None,
            reply_to=reply_to,
        )

    async def edit_group(
        self, cohort: Cohort, message_id: int, text: str, *, keyboard: Keyboard | None = None
    ) -> None:
        """Edit one of the bot's messages in the cohort's provider group (NOTICE)."""
        await self.edit_chat(cohort.provider_chat_id, message_id, text, keyboard=keyboard)
