"""Edits and Telegram's overall limit, through python-telegram-bot and our rate limiter
against the sandbox over HTTP: the bot counts an edit in its chat's window only
(docs/architecture.md, "Telegram facts the design rests on"), and if Telegram turned out to
count edits overall after all, the limiter notices from its refusals and counts them too
(``EDIT_REFUSALS``)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

import pytest
from telegram.error import RetryAfter
from telegram.ext import ExtBot

from bot.sandbox.limits import Limits as ServerLimits
from bot.sandbox.server import FakeBotApi
from bot.transport.ratelimit import EDIT_REFUSALS, Limits, SlidingWindowRateLimiter, urgent_send
from tests.support.stoppable_clock import LimiterClock

FIRST = 7_000_001


@dataclass
class Telegram:
    """A sandbox and a bot with our rate limiter, on one clock the test can stop."""

    clock: LimiterClock
    limiter: SlidingWindowRateLimiter
    server: FakeBotApi
    bot: ExtBot[None]


@asynccontextmanager
async def _telegram(*, edits_count_overall: bool) -> AsyncIterator[Telegram]:
    clock = LimiterClock()
    limiter = SlidingWindowRateLimiter(Limits(), monotonic=clock)
    server = FakeBotApi(
        bot_username="moodcheck_test_bot",
        limits=ServerLimits(edits_count_overall=edits_count_overall),
        clock=clock,
    )
    await server.start()
    for offset in range(40):
        server.user(FIRST + offset, first_name=f"P{offset}")
    try:
        async with ExtBot(server.token, base_url=server.base_url, rate_limiter=limiter) as bot:
            yield Telegram(clock, limiter, server, bot)
    finally:
        clock.go_on()
        await server.stop()


async def _fill_the_second(bot: ExtBot[None], clock: LimiterClock) -> list[int]:
    """30 sends at once (urgent: no quarter-second pace), the whole overall window of the
    bot and of the server; then the clock both count on stops, so the windows stay full
    however slow the machine. Returns the messages' ids."""
    token = urgent_send.set(True)
    try:
        sent = [
            (await bot.send_message(FIRST + offset, "How are you?")).message_id
            for offset in range(30)
        ]
    finally:
        urgent_send.reset(token)
    clock.stop()
    return sent


def _refused(server: FakeBotApi) -> list[str]:
    return [record.method for record in server.requests if record.status == 429]


async def test_edits_go_while_the_second_is_full_of_sends() -> None:
    async with _telegram(edits_count_overall=False) as t:
        messages = await _fill_the_second(t.bot, t.clock)
        for offset in range(10):  # ten patients' taps answered in the same second
            await t.bot.edit_message_text(
                "2/7", chat_id=FIRST + offset, message_id=messages[offset]
            )
    assert _refused(t.server) == []
    assert not t.limiter.edits_count_overall()


async def test_if_telegram_counted_edits_overall_the_bot_would_too() -> None:
    async with _telegram(edits_count_overall=True) as t:
        messages = await _fill_the_second(t.bot, t.clock)
        for offset in range(EDIT_REFUSALS):
            with pytest.raises(RetryAfter):
                await t.bot.edit_message_text(
                    "2/7", chat_id=FIRST + offset, message_id=messages[offset]
                )
        assert t.limiter.edits_count_overall()
        # The next edit waits for room in the overall window instead of drawing a 429 ...
        edit = asyncio.create_task(
            t.bot.edit_message_text("2/7", chat_id=FIRST + 20, message_id=messages[20])
        )
        await asyncio.sleep(0.3)
        assert not edit.done()
        t.clock.advance(1.1)  # ... and goes once the second is over.
        await asyncio.wait_for(edit, 10.0)
    assert _refused(t.server) == ["editMessageText"] * EDIT_REFUSALS
