"""Handler registration: the one place that maps updates to handlers."""

from __future__ import annotations

import logging
from typing import Any

from telegram import Update
from telegram.ext import (
    Application,
    ApplicationHandlerStop,
    CallbackQueryHandler,
    ChatMemberHandler,
    CommandHandler,
    MessageHandler,
    TypeHandler,
    filters,
)

from bot.transport.processor import note_failure
from handlers import alerts, channel, patient, patient_admin, provider, strangers, team
from handlers.context import NotApplicable

logger = logging.getLogger(__name__)


async def on_error(update: object, context: Any) -> None:
    """Log a failed update by id and exception type only: never its content (patient data)."""
    error = context.error
    if isinstance(error, NotApplicable):
        return
    if error is not None and note_failure(error):
        # The database is down: the update is answered as not taken and comes again; the
        # processor logs the outage once (bot/transport/processor.py), not a traceback per attempt.
        raise ApplicationHandlerStop
    update_id = update.update_id if isinstance(update, Update) else None
    logger.error(
        "update %s failed: %s",
        update_id,
        type(error).__name__,
        exc_info=(type(error), error, error.__traceback__) if error else None,
    )


def register(app: Application[Any, Any, Any, Any, Any, Any]) -> None:
    """Add every handler, in order: the first that matches an update handles it."""
    private = filters.ChatType.PRIVATE
    # Group -1 runs before the others, for every private update: someone who blocked the bot
    # and writes again is reachable again (their update is then handled as usual).
    app.add_handler(TypeHandler(Update, patient.seen), group=-1)
    # The provider group moved to a supergroup, or the bot's place in a group changed.
    app.add_handler(MessageHandler(filters.StatusUpdate.MIGRATE, channel.migration))
    app.add_handler(ChatMemberHandler(channel.my_member, ChatMemberHandler.MY_CHAT_MEMBER))
    # Group -2 runs first: a message from someone not enrolled, over the limits, stops here
    # (nothing stored, nothing answered).
    app.add_handler(TypeHandler(Update, strangers.gate), group=-2)
    # Edited messages first: PTB's message and command handlers match edits too, and an
    # edit is read only for crisis language (no second reply, no command run again).
    app.add_handler(MessageHandler(filters.UpdateType.EDITED_MESSAGE, patient.edited))
    app.add_handler(CommandHandler("start", patient.start, filters=private))
    app.add_handler(CommandHandler("checkin", patient.checkin, filters=private))
    app.add_handler(CommandHandler("settings", patient_admin.settings, filters=private))
    app.add_handler(
        CommandHandler(
            list(patient_admin.LIFECYCLE_COMMANDS), patient_admin.lifecycle, filters=private
        )
    )
    app.add_handler(CommandHandler("help", patient_admin.help_command, filters=private))
    # Provider commands: in groups (the service runs them only in a cohort's own group), and
    # refused in private chats rather than answered with the patient's help text.
    app.add_handler(
        CommandHandler(
            list(provider.GROUP_COMMANDS), provider.command, filters=filters.ChatType.GROUPS
        )
    )
    app.add_handler(
        CommandHandler(list(provider.PRIVATE_REFUSED), provider.command, filters=private)
    )
    # Buttons, routed by the kind prefix of their data (bot/domain/callback_data.py).
    app.add_handler(CallbackQueryHandler(patient.button, pattern=r"^[atdbkcp]\|"))
    app.add_handler(CallbackQueryHandler(patient_admin.button, pattern=r"^[sy]\|"))
    # Acknowledge and Resolve on alert messages in provider groups.
    app.add_handler(CallbackQueryHandler(alerts.button, pattern=r"^[gf]\|"))
    # Send / Cancel on a care team's drafted message to a patient.
    app.add_handler(CallbackQueryHandler(team.button, pattern=r"^m\|"))
    # Anything else a button can carry (forged, or from an older version) is refused.
    app.add_handler(CallbackQueryHandler(patient.unknown_button))
    app.add_handler(MessageHandler(private & ~filters.COMMAND & filters.TEXT, patient.other_text))
    # Stickers, photos, voice, files, locations, contacts ...: only taps and text are read.
    app.add_handler(
        MessageHandler(
            private & ~filters.TEXT & ~filters.StatusUpdate.ALL & ~filters.COMMAND,
            patient_admin.media,
        )
    )
    # In a group, a provider's reply to one of the bot's messages about a patient drafts a
    # message to that patient (bot/services/provider/team_messages.py); other group text is not
    # ours.
    app.add_handler(
        MessageHandler(
            filters.ChatType.GROUPS & filters.TEXT & ~filters.COMMAND & filters.REPLY, team.reply
        )
    )
    # A command we do not know: the help text, rather than silence.
    app.add_handler(MessageHandler(private & filters.COMMAND, patient_admin.help_command))
    app.add_error_handler(on_error)
