"""Queueing outbound messages: rows in the outbox, written in the caller's transaction."""

from __future__ import annotations

import base64
from datetime import datetime
from enum import IntEnum
from typing import Any

from bot.domain.alerts import Tier
from storage.repositories.outbox import NewOutboxMessage
from storage.uow import UnitOfWork

Keyboard = list[list[dict[str, str]]]


class Priority(IntEnum):
    """Send order when the bot is at Telegram's limits: lower goes first.

    In a provider group only alerts (IMMEDIATE and URGENT, and their re-raises) go at
    CRISIS or INTERACTIVE: the rate limiter lets those take the places of the group's minute
    it keeps from everything else (``bot.transport.ratelimit``); every other group message is
    NOTICE (see :func:`reply_priority`).
    """

    CRISIS = 0
    """Crisis cards and IMMEDIATE alerts: never behind a fan-out."""
    INTERACTIVE = 1
    """Replies to something the patient just did, and URGENT alerts."""
    NOTICE = 2
    """ROUTINE alerts and other provider notices."""
    ROUTINE = 3
    """Scheduled prompts."""
    STRANGER = 4
    """Replies to people who are not enrolled (how to join, invite refused): after every
    patient's prompt, so that a flood of strangers never delays one (``bot.domain.throttle``
    bounds how many there are)."""


def reply_priority(chat_id: int, *, enrolled: bool = True) -> Priority:
    """Return the priority of a reply to someone's message or command: INTERACTIVE in a
    private chat (STRANGER to someone not enrolled), NOTICE in a group (where INTERACTIVE is
    for alerts only)."""
    if chat_id < 0:
        return Priority.NOTICE
    return Priority.INTERACTIVE if enrolled else Priority.STRANGER


def alert_priority(tier: Tier) -> Priority:
    """Return the send priority of an alert message of a tier."""
    return {
        Tier.IMMEDIATE: Priority.CRISIS,
        Tier.URGENT: Priority.INTERACTIVE,
        Tier.ROUTINE: Priority.NOTICE,
    }[tier]


class OnSent:
    """What the delivery worker records once a message is sent (``outbox.on_sent``)."""

    CHECKIN_MESSAGE = "checkin_message"
    """Store the message id on the check-in ``ref_id``."""
    ALERT_MESSAGE = "alert_message"
    """Store the message id on every alert of the group message whose head alert is
    ``ref_id`` (see ``bot.services.alerts.alerting``)."""


def _payload(
    chat_id: int,
    text: str,
    keyboard: Keyboard | None,
    message_id: int | None = None,
    reply_to: int | None = None,
) -> dict[str, Any]:
    payload: dict[str, Any] = {"chat_id": chat_id, "text": text, "parse_mode": "HTML"}
    if message_id is not None:
        payload["message_id"] = message_id
    if reply_to is not None:
        # A reply to a message deleted meanwhile is still sent, as a plain message.
        payload["reply_parameters"] = {"message_id": reply_to, "allow_sending_without_reply": True}
    if keyboard is not None:
        payload["reply_markup"] = {"inline_keyboard": keyboard}
    return payload


def _row(  # noqa: PLR0917 - one row's columns, behind keyword-only fronts
    now: datetime,
    chat_id: int,
    method: str,
    payload: dict[str, Any],
    priority: Priority,
    dedup_key: str | None,
    on_sent: str | None,
    ref_id: int | None,
    patient_id: int | None,
) -> NewOutboxMessage:
    return {
        "dedup_key": dedup_key,
        "chat_id": chat_id,
        "method": method,
        "payload": payload,
        "priority": int(priority),
        "status": "pending",
        "attempts": 0,
        "next_attempt_at": now,
        "created_at": now,
        "on_sent": on_sent,
        "ref_id": ref_id,
        "patient_id": patient_id,
    }


def send_row(
    *,
    now: datetime,
    chat_id: int,
    text: str,
    priority: Priority,
    keyboard: Keyboard | None = None,
    dedup_key: str | None = None,
    on_sent: str | None = None,
    ref_id: int | None = None,
    patient_id: int | None = None,
    reply_to: int | None = None,
) -> NewOutboxMessage:
    """Return the outbox row of a sendMessage (for :func:`queue_send` or bulk queueing);
    ``reply_to``: the id of a message in the chat it answers (Telegram's reply)."""
    return _row(
        now,
        chat_id,
        "sendMessage",
        _payload(chat_id, text, keyboard, reply_to=reply_to),
        priority,
        dedup_key,
        on_sent,
        ref_id,
        patient_id,
    )


async def queue_send(
    uow: UnitOfWork,
    *,
    now: datetime,
    chat_id: int,
    text: str,
    priority: Priority,
    keyboard: Keyboard | None = None,
    dedup_key: str | None = None,
    on_sent: str | None = None,
    ref_id: int | None = None,
    patient_id: int | None = None,
    reply_to: int | None = None,
) -> bool:
    """Queue a sendMessage; return False when the dedup key was used before."""
    return await uow.outbox.enqueue(
        send_row(
            now=now,
            chat_id=chat_id,
            text=text,
            priority=priority,
            keyboard=keyboard,
            dedup_key=dedup_key,
            on_sent=on_sent,
            ref_id=ref_id,
            patient_id=patient_id,
            reply_to=reply_to,
        )
    )


async def queue_edit(
    uow: UnitOfWork,
    *,
    now: datetime,
    chat_id: int,
    message_id: int,
    text: str,
    priority: Priority | None = None,
    keyboard: Keyboard | None = None,
    patient_id: int | None = None,
) -> None:
    """Queue an editMessageText; without a keyboard the message's buttons go away.
    Default priority: :func:`reply_priority` of the chat."""
    await uow.outbox.enqueue(
        _row(
            now,
            chat_id,
            "editMessageText",
            _payload(chat_id, text, keyboard, message_id),
            reply_priority(chat_id) if priority is None else priority,
            None,
            None,
            None,
            patient_id,
        )
    )


async def queue_document(
    uow: UnitOfWork,
    *,
    now: datetime,
    chat_id: int,
    content: bytes,
    filename: str,
    caption: str,
    priority: Priority | None = None,
    patient_id: int | None = None,
) -> None:
    """Queue a sendDocument of a small file made by the bot (e.g. a patient's data export).
    Default priority: :func:`reply_priority` of the chat.

    The bytes travel in the payload as base64 (JSON columns hold text); the delivery worker
    uploads them as ``document`` with ``filename``.
    """
    payload = {
        "chat_id": chat_id,
        "document_base64": base64.b64encode(content).decode("ascii"),
        "filename": filename,
        "caption": caption,
    }
    await uow.outbox.enqueue(
        _row(
            now,
            chat_id,
            "sendDocument",
            payload,
            reply_priority(chat_id) if priority is None else priority,
            None,
            None,
            None,
            patient_id,
        )
    )


async def queue_photo(
    uow: UnitOfWork,
    *,
    now: datetime,
    chat_id: int,
    content: bytes,
    filename: str,
    caption: str,
    priority: Priority = Priority.NOTICE,
    dedup_key: str | None = None,
    patient_id: int | None = None,
) -> bool:
    """Queue a sendPhoto of an image made by the bot (e.g. the weekly digest's chart).

    The bytes travel in the payload as base64, like :func:`queue_document`; Telegram shows a
    photo inline (recompressed), so keep it a PNG of sane size (under 10 MB, sides under
    10,000 px together). Returns False when the dedup key was used before.
    """
    payload = {
        "chat_id": chat_id,
        "photo_base64": base64.b64encode(content).decode("ascii"),
        "filename": filename,
        "caption": caption,
    }
    return await uow.outbox.enqueue(
        _row(now, chat_id, "sendPhoto", payload, priority, dedup_key, None, None, patient_id)
    )
