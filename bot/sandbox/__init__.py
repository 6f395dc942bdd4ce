"""Fake Telegram Bot API server used by end-to-end tests, ``make demo`` and benchmarks.

Typical use::

    async with FakeBotApi() as server:
        alice = server.user(1001, first_name="Alice")
        # run the bot with base_url=server.base_url ...
        await alice.send_text("/start")
        await server.wait_for(lambda: alice.last_message is not None)
        assert server.violations == []

Validation uses the Bot API spec named by ``$MOODCHECK_BOT_API_SPEC`` (CI sets it) and
falls back to a built-in table of the methods the sandbox implements.
"""

from bot.sandbox.faults import FaultInjector
from bot.sandbox.limits import Limits, RateLimiter
from bot.sandbox.server import FakeBotApi
from bot.sandbox.state import (
    BotMessage,
    CallbackAnswer,
    PendingCallback,
    RequestRecord,
    TranscriptEvent,
    Violation,
    WebhookDelivery,
)
from bot.sandbox.users import ButtonNotFoundError, GroupMember, SimGroup, SimUser

__all__ = [
    "BotMessage",
    "ButtonNotFoundError",
    "CallbackAnswer",
    "FakeBotApi",
    "FaultInjector",
    "GroupMember",
    "Limits",
    "PendingCallback",
    "RateLimiter",
    "RequestRecord",
    "SimGroup",
    "SimUser",
    "TranscriptEvent",
    "Violation",
    "WebhookDelivery",
]
