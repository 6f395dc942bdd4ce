"""Delivery when things break: a worker killed in the middle of a fan-out, and a Bot API
that fails one request in ten. Real processes where a process dies: the sandbox server and
``moodcheck run`` are started as an operator starts them, and watched from outside."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select

from bench.cluster import (
    TOKEN,
    Sandbox,
    Worker,
    duplicates,
    seed_due_patients,
    sync_cohort,
    wait_for,
    write_config,
)
from bot.app import build
from bot.config import AppConfig, load_config
from bot.domain.clock import ManualClock, SystemClock
from bot.sandbox.limits import Limits as SandboxLimits
from bot.sandbox.server import FakeBotApi
from bot.services.outbox import Priority, queue_send
from bot.settings import Settings
from bot.transport.delivery import DeliveryPolicy
from storage.db import create_engine
from storage.models import Checkin, OutboxMessage
from tests.support.harness import Harness
from tests.support.keys import TEST_KEYRING, TEST_KEYS

FANOUT = 2000
WINDOW = DeliveryPolicy().window


@pytest.fixture(name="sandbox")
def fx_sandbox() -> Iterator[Sandbox]:
    # No flood limits: what is tested is what a death or a failure loses, not the pace.
    sandbox = Sandbox(limits=False)
    yield sandbox
    sandbox.stop()


async def _outbox_statuses(url: str) -> dict[str, int]:
    engine = create_engine(url, keyring=TEST_KEYRING)
    try:
        async with engine.connect() as connection:
            rows = await connection.execute(
                select(OutboxMessage.status, func.count())
                .where(OutboxMessage.chat_id > 0)  # the prompts
                .group_by(OutboxMessage.status)
            )
            found = {str(status): int(count) for status, count in rows.all()}
            found["checkins"] = int(
                await connection.scalar(select(func.count()).select_from(Checkin)) or 0
            )
            return found
    finally:
        await engine.dispose()


async def test_a_worker_killed_mid_fanout_loses_nothing(
    db_url: str, sandbox: Sandbox, tmp_path: Path
) -> None:
    config = write_config(tmp_path)
    now = datetime.now(UTC)
    await seed_due_patients(db_url, await sync_cohort(db_url, config), FANOUT, now)
    log = tmp_path / "worker.log"
    # 500 messages/s: the fan-out takes ~4 s, long enough to kill the worker half-way.
    first = Worker.start(database_url=db_url, sandbox=sandbox, config=config, log=log, rate=500)
    try:
        at_kill = await asyncio.to_thread(wait_for, sandbox, 300, 30.0, every=0.01)
    finally:
        first.kill()
    delivered_at_kill = len(at_kill["per_chat"])
    await asyncio.sleep(0.5)
    settled = len(sandbox.stats()["per_chat"])
    # Killed in the middle: some hundreds out, most still to go.
    assert 300 <= delivered_at_kill < FANOUT - 500, delivered_at_kill
    second = Worker.start(database_url=db_url, sandbox=sandbox, config=config, log=log, rate=500)
    started = time.monotonic()
    try:
        stats = await asyncio.to_thread(wait_for, sandbox, FANOUT, 40.0)
        # Anything still in flight after "all delivered" would show up as a late duplicate.
        await asyncio.sleep(0.5)
        stats = sandbox.stats()
    finally:
        second.stop()
    recovered = time.monotonic() - started
    doubled = duplicates(stats)
    print(  # noqa: T201 - the figures the report quotes
        f"killed at {delivered_at_kill} ({settled} after the kill), all {FANOUT} "
        f"{recovered:.1f} s after the restart, duplicates {doubled}"
    )
    assert len(stats["per_chat"]) == FANOUT, second.output()[-3000:]
    # Only what was in flight at the kill can go twice (sent, its outcome not yet written).
    assert doubled <= WINDOW
    statuses = await _outbox_statuses(db_url)
    assert statuses == {"sent": FANOUT, "checkins": FANOUT}, statuses


async def test_one_request_in_ten_failing_loses_nothing(
    db_url: str, sandbox: Sandbox, tmp_path: Path
) -> None:
    config_path = write_config(tmp_path)
    config = load_config(config_path)
    now = datetime.now(UTC)
    await seed_due_patients(db_url, await sync_cohort(db_url, config_path), FANOUT, now)
    # 5xx, connections closed before the request is handled, and closed after it was (the
    # message went out but the answer was lost: the worker cannot know, and sends it again).
    sandbox.faults(
        action="random",
        rate=0.1,
        kinds=["5xx", "drop", "drop_after"],
        methods=["sendMessage"],
        seed=7,
    )
    settings = Settings(
        telegram_token=TOKEN,
        database_url=db_url,
        telegram_base_url=sandbox.base_url,
        data_keys=TEST_KEYS,
    )
    policy = DeliveryPolicy(backoff_base=1.5, backoff_cap=2.0, poll_interval=0.1)
    bot = build(
        settings,
        config,
        clock=SystemClock(),
        rate_limited=False,
        delivery=policy,
        scan_interval=None,
    )
    await bot.application.initialize()
    try:
        queued = await bot.services.due_scan.run()
        assert queued == FANOUT
        bot.worker.start()
        deadline = time.monotonic() + 60
        # Polling the worker's counter, with a deadline: the brief allows waiting like this.
        while bot.worker.stats.sent < FANOUT and time.monotonic() < deadline:  # noqa: ASYNC110
            await asyncio.sleep(0.05)
        await bot.worker.stop()
    finally:
        await bot.application.shutdown()
        await bot.engine.dispose()
    stats = sandbox.stats()
    faults = stats["faults"]
    print(f"faults injected {faults}, retried {bot.worker.stats.retried}")  # noqa: T201
    # About 10 % of ~2,240 requests, split between the three kinds.
    assert sum(faults.values()) > 180
    assert min(faults.get(kind, 0) for kind in ("5xx", "drop", "drop_after")) > 40
    assert len(stats["per_chat"]) == FANOUT
    # A message is doubled exactly when its answer was lost after it went out.
    assert duplicates(stats) == faults.get("drop_after", 0) > 0
    statuses = await _outbox_statuses(db_url)
    assert statuses == {"sent": FANOUT, "checkins": FANOUT}, statuses
    assert bot.worker.stats.dead == 0
    assert bot.worker.stats.retried == sum(faults.values())


async def test_a_full_group_window_holds_up_nothing_else(
    db_url: str, config: AppConfig, clock: ManualClock
) -> None:
    # The group's 17th notice in a minute (16 of its 20 are for messages other than alerts)
    # would wait ~60 s in the rate limiter, and with it the whole round (every other chat's
    # messages). It goes back to the queue instead.
    server = FakeBotApi(limits=SandboxLimits(private=(10, 1.0)))
    await server.start()
    group = server.group(-100111, title="Clinic A providers")
    patient = server.user(4242, first_name="Pat")
    h = Harness(server, db_url, config, clock)
    await h.start_bot()
    try:
        runtime = h.runtime.services.runtime
        async with runtime.uow() as uow:
            for n in range(22):
                await queue_send(
                    uow,
                    now=clock.now(),
                    chat_id=-100111,
                    text=f"notice {n}",
                    priority=Priority.NOTICE,
                )
            await queue_send(
                uow,
                now=clock.now(),
                chat_id=patient.chat_id,
                text="prompt",
                priority=Priority.ROUTINE,
            )
            await uow.commit()
        await h.settle()
        assert len(group.messages) == 16
        assert [m.text for m in patient.messages] == ["prompt"]
        waiting = await h.rows(
            select(OutboxMessage.next_attempt_at, OutboxMessage.attempts).where(
                OutboxMessage.status == "pending"
            )
        )
        assert len(waiting) == 6  # the 17th, and the five behind it (one chat, in order)
        later = [
            at for at, _ in waiting if at.replace(tzinfo=UTC) > clock.now() + timedelta(seconds=50)
        ]
        assert len(later) >= 1 and all(attempts == 0 for _, attempts in waiting)
        assert h.runtime.worker.stats.deferred >= 1
    finally:
        await h.close()
        await server.stop()
