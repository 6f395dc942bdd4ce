"""A busy provider group: the team fills its minute with commands, and an IMMEDIATE alert
still reaches the group at once (issue 13, item 1).

The sandbox counts the group's 20 messages per 60 s on the test's ManualClock, and so does
the bot's own rate limiter: the minute passes by moving the clock, never by sleeping. Each
trial: a provider types /patients and /alerts until the group's minute holds more replies
than Telegram would take, then a patient writes crisis words; the alert must be in the
group within 2 s of wall time, with no 429 and never more than 20 messages a minute.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select

from bot.config import AppConfig
from bot.domain.clock import ManualClock
from bot.sandbox.limits import Limits as SandboxLimits
from bot.sandbox.server import FakeBotApi
from bot.sandbox.state import BotMessage
from bot.services.outbox import Priority
from bot.transport.ratelimit import Limits
from storage.models import OutboxMessage
from tests.e2e.conftest import GROUP_A
from tests.e2e.flows import enrol
from tests.support.harness import Harness

TRIALS = 4
COMMANDS = 21
"""Commands a trial types, /patients and /alerts in turn, each answered in one message:
more than the group's 20 a minute."""
CRISIS = "I don't want to live anymore"


@pytest.fixture(name="server")
async def fx_server(clock: ManualClock) -> AsyncIterator[FakeBotApi]:
    server = FakeBotApi(
        bot_username="moodcheck_test_bot",
        # Only the group's limit is under test (the clock is frozen within a trial).
        limits=SandboxLimits(global_per_second=100_000, private=(100, 1.0)),
        clock=lambda: clock.now().timestamp(),
    )
    await server.start()
    yield server
    await server.stop()
    assert server.violations == [], server.violations
    assert server.unanswered_callbacks() == [], server.unanswered_callbacks()


@pytest.fixture(name="harness")
async def fx_harness(
    server: FakeBotApi, db_url: str, config: AppConfig, clock: ManualClock
) -> AsyncIterator[Harness]:
    # The bot's limiter keeps Telegram's group limit (and the alert reserve) on the same
    # clock as the server; the overall and private limits are out of the way.
    limits = Limits(overall=(100_000, 1.0), private=(100, 1.0))
    harness = Harness(
        server, db_url, config, clock, limits=limits, limiter_clock=lambda: clock.now().timestamp()
    )
    server.group(GROUP_A, title="Clinic A providers")
    await harness.start_bot()
    yield harness
    await harness.close()


def _sends(h: Harness) -> list[BotMessage]:
    return [m for m in h.server.group(GROUP_A).messages if isinstance(m, BotMessage)]


def _alerts(h: Harness) -> list[BotMessage]:
    return [m for m in _sends(h) if "Acknowledge" in m.labels]


def _max_per_minute(h: Harness) -> int:
    """The most group messages in any 60 s (by the server's clock; the server itself
    answers 429 to anything over Telegram's limit, edits included)."""
    stamps = sorted(m.sent_at for m in _sends(h))
    best, start = 0, 0
    for end, stamp in enumerate(stamps):
        while stamp - stamps[start] >= 60.0:
            start += 1
        best = max(best, end - start + 1)
    return best


async def _fill_the_minute(h: Harness, nurse: Any) -> None:
    for n in range(COMMANDS):
        h.track(await nurse.send_text("/patients" if n % 2 == 0 else "/alerts"))
    await h.settle()


async def test_an_immediate_alert_is_not_held_behind_the_teams_commands(
    harness: Harness,
) -> None:
    h = harness
    nurse = h.server.group(GROUP_A).member(9001, first_name="Nurse")
    patients = [h.server.user(8100 + n, first_name="Pat") for n in range(TRIALS)]
    for n, user in enumerate(patients):
        await enrol(h, user, f"P-BG{n}")
    latencies: list[float] = []
    for n, user in enumerate(patients):
        await h.advance(timedelta(seconds=65))  # the last trial's waiting replies go
        await h.advance(timedelta(seconds=65))  # and this trial's minute is a fresh one
        before = len(_sends(h))
        await _fill_the_minute(h, nurse)
        # The team's replies took their part of the minute and the rest wait for the next.
        assert len(_sends(h)) - before == 16
        waiting = await h.count(
            OutboxMessage, OutboxMessage.chat_id == GROUP_A, OutboxMessage.status == "pending"
        )
        assert waiting == COMMANDS - 16

        started = time.monotonic()
        await user.send_text(CRISIS)

        def arrived(seen: int = n) -> bool:
            return len(_alerts(h)) > seen

        await h.server.wait_for(arrived, timeout=10.0)
        latencies.append(time.monotonic() - started)
        assert f"P-BG{n}" in _alerts(h)[-1].text
        await h.settle()

    assert max(latencies) < 2.0, latencies
    assert _max_per_minute(h) <= 20
    assert [r for r in h.server.requests if r.status == 429] == []
    # The waiting replies went once their minute came: nothing was lost.
    await h.advance(timedelta(seconds=65))
    await h.advance(timedelta(seconds=65))
    pending = await h.rows(select(OutboxMessage.priority).where(OutboxMessage.status != "sent"))
    assert pending == []
    replies = await h.rows(
        select(OutboxMessage.priority).where(
            OutboxMessage.chat_id == GROUP_A, OutboxMessage.on_sent.is_(None)
        )
    )
    assert set(replies) == {Priority.NOTICE}  # command replies never take an alert's place
