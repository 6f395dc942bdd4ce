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

from collections.abc import AsyncIterator
from dataclasses import dataclass

import pytest

from bot.config import AppConfig
from bot.domain.clock import ManualClock
from bot.sandbox.limits import Limits
from bot.sandbox.server import FakeBotApi
from tests.e2e.conftest import GROUP_A
from tests.support.faults import DatabaseOutage, SqliteLock, TcpProxy
from tests.support.harness import Harness
from tests.support.outage import run_outage


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


async def test_nothing_is_lost_while_the_database_is_down(rig: Rig) -> None:
    h = rig.harness
    sqlite = h.db_url.startswith("sqlite")
    # Long enough that writes really fail: SQLite gives up after its 10-s busy budget.
    r = await run_outage(h, rig.outage, GROUP_A, seconds=12.0 if sqlite else 4.0)
    # The cards came without the database, at once.
    assert r.card_after_yes is not None and r.card_after_yes < 2.0
    assert r.card_after_text is not None and r.card_after_text < 2.0
    if not sqlite:
        # Every tap failed at once and was answered; SQLite's writers wait their turn first.
        assert r.taps_told_could_not_save == 50
        assert r.stored_during_outage == 0
        assert r.alerts_during_outage == 0
    # No alert reached the group, and no message claimed the team knew, during the outage.
    assert r.group_messages_during_outage == 0
    # After it: every update stored exactly once; the alerts raised and posted.
    assert r.stored == r.updates == 52
    assert r.distinct_mood_answers == 50
    assert r.safety_answers == ["yes"]
    assert r.crisis_messages == [True]
    assert r.alert_rules == ["crisis_words", "safety_thoughts"]
    # Each patient saw the card once, then that the team has now been told.
    assert r.cards_seen == [1, 1]
    assert r.followups_seen == [1, 1]
    # The offline card knew the patients' cohort (US numbers), though four are configured.
    assert r.cards_in_cohort_region == 2
    # The taps' check-ins moved on to the next question.
    assert r.checkins_moved_on == 50
