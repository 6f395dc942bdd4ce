"""python-telegram-bot against the sandbox: the client the bot really uses."""

from __future__ import annotations

import io

from telegram import Bot, InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.ext import Application, CallbackQueryHandler, CommandHandler, ContextTypes

from bot.sandbox.server import FakeBotApi


async def test_ptb_bot_smoke(server: FakeBotApi) -> None:
    server.user(1001, first_name="Alice")
    markup = InlineKeyboardMarkup([[InlineKeyboardButton("Agree", callback_data="consent|y")]])
    async with Bot(server.token, base_url=server.base_url) as bot:
        me = await bot.get_me()
        assert me.username == "moodcheck_test_bot"
        message = await bot.send_message(1001, "hi", reply_markup=markup)
        assert message.text == "hi"
        assert message.reply_markup == markup
        html = await bot.send_message(1001, "<b>bold</b> &amp; more", parse_mode="HTML")
        assert html.text == "bold & more" and html.text_html == "<b>bold</b> &amp; more"
        document = await bot.send_document(
            1001, document=io.BytesIO(b"a,b\n"), filename="digest.csv", caption="Digest"
        )
        assert document.document is not None and document.document.file_name == "digest.csv"
    assert server.violations == []


async def test_ptb_application_polls_and_handles(server: FakeBotApi) -> None:
    alice = server.user(1001, first_name="Alice")

    async def start(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        assert update.effective_message is not None
        assert context.args == ["abc"]
        markup = InlineKeyboardMarkup([[InlineKeyboardButton("Agree", callback_data="y")]])
        await update.effective_message.reply_text("Welcome", reply_markup=markup)

    async def agree(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        query = update.callback_query
        assert query is not None
        await query.answer("Saved")
        await query.edit_message_text("Thanks")

    application = Application.builder().token(server.token).base_url(server.base_url).build()
    application.add_handler(CommandHandler("start", start))
    application.add_handler(CallbackQueryHandler(agree))
    async with application:
        await application.start()
        assert application.updater is not None
        await application.updater.start_polling(poll_interval=0.0, timeout=5)
        await alice.send_text("/start abc")
        await server.wait_for(lambda: alice.last_message is not None)
        await alice.press("Agree")
        await server.wait_for(lambda: alice.last_message and alice.last_message.text == "Thanks")
        await application.updater.stop()
        await application.stop()
    assert [a.text for a in alice.callback_answers] == ["Saved"]
    assert server.render_transcript([1001]).splitlines() == [
        "Alice > /start abc",
        "bot > Welcome [Agree]",
        "Alice taps [Agree]",
        'bot answers Alice: "Saved"',
        "bot edits #2 > Thanks",
    ]
    assert server.violations == []
