"""End-to-end fixtures: the sandbox server, and the bot built as production builds it."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from bot.config import AppConfig
from bot.domain.clock import ManualClock
from bot.sandbox.limits import Limits
from bot.sandbox.server import FakeBotApi
from tests.support.harness import Harness

GROUP_A = -100111
GROUP_B = -100222
GROUP_C = -100333
GROUP_D = -100444


@pytest.fixture(name="server")
async def fx_server() -> AsyncIterator[FakeBotApi]:
    # Telegram tolerates short bursts to one private chat; the sandbox's default (3 per
    # second) is stricter than that. A bot restarted mid-conversation starts with empty rate
    # windows while the server remembers the last second, and on the tests' frozen clock a
    # 429's retry would never come due. 429 handling has its own tests (injected faults).
    server = FakeBotApi(bot_username="moodcheck_test_bot", limits=Limits(private=(10, 1.0)))
    await server.start()
    yield server
    await server.stop()
    # Every request the bot made must have been a valid Bot API call, and every button
    # press answered (or the patient's app keeps spinning).
    assert server.violations == [], server.violations
    assert server.unanswered_callbacks() == [], server.unanswered_callbacks()


@pytest.fixture(name="harness")
async def fx_harness(
    server: FakeBotApi, db_url: str, config: AppConfig, clock: ManualClock
) -> AsyncIterator[Harness]:
    harness = Harness(server, db_url, config, clock)
    server.group(GROUP_A, title="Clinic A providers")
    server.group(GROUP_B, title="Clinic B providers")
    server.group(GROUP_C, title="Clinic C providers")
    server.group(GROUP_D, title="Clinic D providers")
    await harness.start_bot()
    yield harness
    await harness.close()
