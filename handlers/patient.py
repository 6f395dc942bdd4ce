"""Patient-side handlers (private chats): parse the update, call one service, answer."""

from __future__ import annotations

from telegram import Update

from bot.domain.callback_data import (
    AnswerButton,
    BackButton,
    ConsentButton,
    DoneButton,
    SideButton,
    SkipButton,
    ToggleButton,
)
from bot.services.patient.enrolment import Sender
from handlers.context import (
    UNHANDLED,
    BotContext,
    Unhandled,
    on_button,
    refuse,
    require_message,
    require_user,
    tapped,
)


def _sender(update: Update) -> Sender:
    user = require_user(update)
    return Sender(user.id, require_message(update).chat_id, user.language_code)


async def start(update: Update, context: BotContext) -> None:
    """/start [code]: enrol with an invite code, or explain how to get one."""
    payload = " ".join(context.args) if context.args else None
    await context.services.enrolment.start(update.update_id, _sender(update), payload)


async def checkin(update: Update, context: BotContext) -> None:
    """/checkin: start or resume today's check-in."""
    sender = _sender(update)
    await context.services.checkins.open_today(update.update_id, sender.user_id, sender.chat_id)


async def other_text(update: Update, context: BotContext) -> None:
    """Any other text: a typed setting the bot asked for, or a message for the care team."""
    sender = _sender(update)
    await context.services.messages.text(
        update.update_id,
        sender.user_id,
        sender.chat_id,
        sender.language_code,
        require_message(update).text or "",
    )


async def edited(update: Update, context: BotContext) -> None:
    """A message edited after it was sent: in a private chat its new text (or caption) is
    read for crisis language only; anything else about an edit is ignored."""
    message = update.edited_message
    if message is None or message.chat.type != "private" or update.effective_user is None:
        return
    text = message.text or message.caption
    if not text:
        return
    sender = _sender(update)
    await context.services.messages.edited(
        update.update_id,
        sender.user_id,
        sender.chat_id,
        sender.language_code,
        text,
        caption=message.text is None,
    )


def _is_checkin_tap(data: object) -> bool:
    return isinstance(data, AnswerButton | ToggleButton | DoneButton | BackButton | SkipButton)


async def button(update: Update, context: BotContext) -> None:
    """A tap on an inline button in a private chat: consent or a check-in answer."""
    user = require_user(update)
    services = context.services

    async def act(data: object, chat_id: int, message_id: int) -> str | Unhandled | None:
        match data:
            case AnswerButton() | ToggleButton() | DoneButton() | BackButton() | SkipButton():
                return await services.checkins.tap(update.update_id, user.id, message_id, data)
            case SideButton():
                return await services.side_checks.tap(update.update_id, user.id, message_id, data)
            case ConsentButton(invite_id, agree):
                sender = Sender(user.id, chat_id, user.language_code)
                return await services.enrolment.consent(
                    update.update_id, sender, message_id, invite_id, agree=agree
                )
        return UNHANDLED

    await on_button(update, context, ("private",), act)


async def unknown_button(update: Update, context: BotContext) -> None:
    """A button whose data no handler knows: refuse it, and answer so the spinner stops."""
    await refuse(update, context)


async def seen(update: Update, context: BotContext) -> None:
    """Any update from a person: a patient who had blocked the bot is reachable again."""
    chat = update.effective_chat
    if update.effective_user is None or chat is None or chat.type != "private":
        return
    tap = tapped(update, ("private",))
    if tap is not None and _is_checkin_tap(tap[0]):
        return  # the tap's own transaction looks (CheckinService.tap): one query less a tap
    await context.services.reachability.seen(update.effective_user.id)
