"""A database outage loses nothing (issue 13, item 2).

The bot's database is taken away for real: for PostgreSQL a proxy between the bot and the
server cuts every connection and refuses new ones; for SQLite another connection holds the
write lock (tests/support/faults.py). During the outage 50 patients tap an answer, one answers
the safety question "Yes" and one writes crisis words. The crisis cards must reach both within
2 s, without the database; every tap must be stored exactly once after the outage, and the
alerts raised then, not before. The full 20-s outage is ``python -m bench.outage``; the tests
use shorter ones (long enough that writes really fail: SQLite gives up after its 10-s busy
budget).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select

from bot.config import AppConfig
from bot.domain.clock import ManualClock
from bot.sandbox.limits import Limits
from bot.sandbox.server import FakeBotApi
from storage.models import Alert, Answer, Checkin, Patient, PatientMessage, ProcessedUpdate
from tests.e2e.conftest import GROUP_A
from tests.e2e.flows import CALM_DAY, enrol, last
from tests.support.faults import DatabaseOutage, SqliteLock, TcpProxy
from tests.support.harness import Harness

CARD = "Someone to talk to, free and 24/7"
FOLLOWUP = "Your care team has now been notified"
COULD_NOT_SAVE = "I could not save that. Please try again in a minute."
CRISIS_TEXT = "some days I want to die"


@dataclass
class Rig:
    harness: Harness
    outage: DatabaseOutage


async def _rig(
    server: FakeBotApi, db_url: str, config: AppConfig, clock: ManualClock, *, webhook: bool
) -> tuple[Harness, DatabaseOutage, TcpProxy | None]:
    proxy: TcpProxy | None = None
    bot_url = db_url
    if db_url.startswith("postgresql"):
        proxy = TcpProxy.for_url(db_url)
        await proxy.start()
        bot_url = proxy.url(db_url)
        outage = DatabaseOutage(proxy=proxy)
    else:
        if webhook:
            pytest.skip("SQLite serves one polling process (docs/operations.md)")
        outage = DatabaseOutage(lock=SqliteLock(db_url))
    harness = Harness(server, db_url, config, clock, webhook=webhook, bot_db_url=bot_url)
    server.group(GROUP_A, title="Clinic A providers")
    await harness.start_bot()
    return harness, outage, proxy


@pytest.fixture(name="rig", params=["polling", "webhook"])
async def fx_rig(
    request: pytest.FixtureRequest, db_url: str, config: AppConfig, clock: ManualClock
) -> AsyncIterator[Rig]:
    webhook = request.param == "webhook"
    # As Telegram posts: a refused update holds back its own chat only, not everyone's.
    server = FakeBotApi(limits=Limits(private=(10, 1.0)), webhook_per_chat=webhook)
    await server.start()
    try:
        harness, outage, proxy = await _rig(server, db_url, config, clock, webhook=webhook)
        try:
            yield Rig(harness, outage)
        finally:
            await outage.end()
            await harness.close()
            if proxy is not None:
                await proxy.stop()
    finally:
        await server.stop()
    assert server.violations == [], server.violations
    assert server.unanswered_callbacks() == [], server.unanswered_callbacks()


def _texts(who: Any) -> list[str]:
    return [m.text for m in who.messages]


async def _within(server: FakeBotApi, predicate: Any, seconds: float) -> float:
    """Wait for a condition; return how long it took (fails after ``seconds``)."""
    started = time.monotonic()
    await server.wait_for(predicate, timeout=seconds)
    return time.monotonic() - started


async def test_nothing_is_lost_while_the_database_is_down(rig: Rig) -> None:
    h, outage = rig.harness, rig.outage
    sqlite = h.db_url.startswith("sqlite")
    tappers = [h.server.user(3000 + i, first_name=f"T{i}") for i in range(50)]
    for i, user in enumerate(tappers):
        await enrol(h, user, f"P-OUT{i:02d}")
        await h.send(user, "/checkin")
    safe = h.server.user(3100, first_name="Sam")
    await enrol(h, safe, "P-SAFE")
    await h.send(safe, "/checkin")
    for label in CALM_DAY[:-1]:
        await h.press(safe, label)
    texter = h.server.user(3101, first_name="Tex")
    await enrol(h, texter, "P-TEXT")
    alerts_before = await h.count(Alert)
    group_before = len(h.server.group(GROUP_A).messages)

    await outage.begin()
    down_at = time.monotonic()
    taps = [h.track(await user.press("7")) for user in tappers]
    yes = h.track(await safe.press("Yes"))
    card_after_yes = await _within(h.server, lambda: any(CARD in t for t in _texts(safe)), 2.0)
    text = h.track(await texter.send_text(CRISIS_TEXT))
    card_after_text = await _within(h.server, lambda: any(CARD in t for t in _texts(texter)), 2.0)
    assert card_after_yes < 2.0 and card_after_text < 2.0
    if not sqlite:
        # Every tap failed at once and was answered; SQLite's writers wait their turn first.
        await h.server.wait_for(
            lambda: all(
                COULD_NOT_SAVE in [a.text for a in user.callback_answers] for user in tappers
            ),
            timeout=10.0,
        )
    # Still down: nothing stored, no alert raised, no card yet claims the team knows.
    outage_seconds = 12.0 if sqlite else 4.0
    await asyncio.sleep(max(0.0, outage_seconds - (time.monotonic() - down_at)))
    if not sqlite:  # (the harness's own SQLite connection would wait for the lock too)
        handled = ProcessedUpdate.update_id.in_([*taps, yes, text])
        assert await h.count(ProcessedUpdate, handled) == 0
        assert await h.count(Alert) == alerts_before
    assert len(h.server.group(GROUP_A).messages) == group_before
    assert not any(FOLLOWUP in t for t in _texts(safe) + _texts(texter))

    await outage.end()
    await h.settle(timeout=60.0)
    # The bot's clock is the test's: let sends that were told to wait (a 429 in the burst
    # after the outage, a retry of a send that failed on the database) come due.
    await h.advance(timedelta(seconds=30))

    # Every update stored exactly once.
    stored = await h.count(ProcessedUpdate, ProcessedUpdate.update_id.in_([*taps, yes, text]))
    assert stored == len(taps) + 2
    moods = await h.rows(
        select(Answer.checkin_id)
        .join(Checkin, Checkin.id == Answer.checkin_id)
        .join(Patient, Patient.id == Checkin.patient_id)
        .where(Answer.item_id == "mood", Patient.label.like("P-OUT%"))
    )
    assert len(moods) == len(set(moods)) == 50
    safety = await h.rows(select(Answer.value).where(Answer.item_id == "safety"))
    assert safety == ["yes"]
    kept = await h.rows(select(PatientMessage.crisis))
    assert kept == [True]
    # The alerts were raised after the outage, and reached the group.
    rules = sorted(await h.rows(select(Alert.rule)))
    assert rules == ["crisis_words", "safety_thoughts"]
    assert len(h.server.group(GROUP_A).messages) > group_before
    # Each patient saw the card once, then that the team has now been told.
    for who in (safe, texter):
        texts = _texts(who)
        assert sum(CARD in t for t in texts) == 1, texts
        assert sum(FOLLOWUP in t for t in texts) == 1, texts
    # The taps' check-ins moved on to the next question.
    behind = [last(user).text for user in tappers if "2/7" not in last(user).text]
    assert behind == []
