"""Patient commands and buttons beyond the check-in: settings, pause, stop, data rights, help,
and what a patient sends that is not a tap (text, stickers, photos ...)."""

from __future__ import annotations

import logging

from telegram import CallbackQuery, Message, Update
from telegram.error import TelegramError

from bot.domain.callback_data import ConfirmButton, SettingButton
from handlers.context import (
    UNHANDLED,
    BotContext,
    Unhandled,
    on_button,
    require_message,
    require_query,
    require_user,
)

LIFECYCLE_COMMANDS = ("pause", "resume", "stop", "mydata", "delete")
logger = logging.getLogger(__name__)


async def settings(update: Update, context: BotContext) -> None:
    """/settings: show the patient's time, time zone and language, with buttons to change."""
    user, message = require_user(update), require_message(update)
    await context.services.settings.show(update.update_id, user.id, message.chat_id)


async def lifecycle(update: Update, context: BotContext) -> None:
    """/pause, /resume, /stop, /mydata, /delete."""
    user, message = require_user(update), require_message(update)
    name = (message.text or "").split(maxsplit=1)[0].lstrip("/").split("@", 1)[0].lower()
    if name not in LIFECYCLE_COMMANDS:
        return
    await context.services.lifecycle.command(update.update_id, user.id, message.chat_id, name)


async def help_command(update: Update, context: BotContext) -> None:
    """/help: what this assistant does and the commands it knows."""
    user, message = require_user(update), require_message(update)
    await context.services.replies.fixed(
        update.update_id, user.id, message.chat_id, user.language_code, "help"
    )


async def button(update: Update, context: BotContext) -> None:
    """A tap on a settings (``s|``) or confirmation (``y|``) button in a private chat."""
    user = require_user(update)
    services = context.services

    async def act(data: object, _chat_id: int, message_id: int) -> str | Unhandled | None:
        match data:
            case SettingButton(field="pause"):
                return await services.lifecycle.pause_chosen(
                    update.update_id, user.id, message_id, data
                )
            case SettingButton():
                return await services.settings.choose(update.update_id, user.id, message_id, data)
            case ConfirmButton():
                reply = await services.lifecycle.confirm(
                    update.update_id, user.id, message_id, data
                )
                if reply.direct_text is not None:
                    await _replace_directly(require_query(update), reply.direct_text)
                return reply.toast
        return UNHANDLED

    await on_button(update, context, ("private",), act)


async def _replace_directly(query: CallbackQuery, text: str) -> None:
    """Show the outcome of an erasure in place of the question, sent from here, not queued:
    an outbox row would store the chat id that the erasure has just removed. Not retried; the
    toast says the same in short if this does not arrive (docs/privacy.md)."""
    try:
        await query.edit_message_text(text, parse_mode="HTML")
    except TelegramError as exc:
        logger.warning("erasure outcome not shown in place: %s", type(exc).__name__)


def _kind(message: Message) -> str:
    """Name what was sent, in the words ``patient_messages.kind`` uses."""
    if message.sticker is not None:
        return "sticker"
    if message.photo:
        return "photo"
    if message.voice is not None or message.audio is not None or message.video_note is not None:
        return "voice"
    if message.location is not None or message.venue is not None:
        return "location"
    return "other"


async def media(update: Update, context: BotContext) -> None:
    """A sticker, photo, voice message, video, file, location or contact: not read."""
    user, message = require_user(update), require_message(update)
    await context.services.messages.media(
        update.update_id,
        user.id,
        message.chat_id,
        user.language_code,
        kind=_kind(message),
        caption=message.caption,
    )
