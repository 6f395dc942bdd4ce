"""Several moodcheck processes on one database: slots, partitions, and a fan-out shared by
two real worker processes on PostgreSQL (no message twice, Telegram's 30/s held together)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select

from bench.cluster import (
    Sandbox,
    Worker,
    duplicates,
    seed_due_patients,
    sync_cohort,
    wait_for,
    write_config,
)
from bot.transport.workers import Partition, PostgresSlots, SqliteSlot
from storage.db import create_engine, create_session_factory
from storage.models import Checkin, OutboxMessage
from storage.uow import UnitOfWorkFactory
from tests.support.keys import TEST_KEYRING

NOW = datetime(2026, 1, 12, 14, 0, tzinfo=UTC)


def _postgres_only(db_url: str) -> None:
    if not db_url.startswith("postgresql"):
        pytest.skip("several workers share a database on PostgreSQL only")


def test_partitions_cover_every_chat_once() -> None:
    chats = [*range(-1_000_100_999, -1_000_100_900), *range(-50, 50), *range(10**9, 10**9 + 99)]
    for count in (1, 2, 3, 5):
        owners = [[p for p in range(count) if Partition(p, count).owns(chat)] for chat in chats]
        assert all(len(found) == 1 for found in owners)
    assert Partition().shard is None
    assert Partition(1, 3).shard == (1, 3)


async def test_one_sqlite_process_at_a_time(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    database = str(tmp_path / "moodcheck.db")
    first, second = SqliteSlot(database), SqliteSlot(database)
    await first.acquire()
    with caplog.at_level(logging.ERROR, logger="bot.transport.workers"):
        await second.acquire()
    assert first.exclusive and not second.exclusive
    assert "another moodcheck process" in caplog.text
    await first.release()
    third = SqliteSlot(database)
    await third.acquire()
    assert third.exclusive  # the lock went with the first process's release (or death)
    await third.release()
    await second.release()


async def test_postgres_slots_count_the_live_workers(db_url: str) -> None:
    _postgres_only(db_url)
    engines = [create_engine(db_url, keyring=TEST_KEYRING) for _ in range(3)]
    slots = [PostgresSlots(engine) for engine in engines]
    try:
        for slot in slots:
            await slot.acquire()
        assert [s.slot for s in slots] == [0, 1, 2]
        assert [await s.refresh() for s in slots] == [Partition(r, 3) for r in range(3)]
        # A worker that goes away (here: closes its connection; a dead one loses it) frees
        # its slot, and the others close ranks at their next look.
        await slots[1].release()
        assert await slots[0].refresh() == Partition(0, 2)
        assert await slots[2].refresh() == Partition(1, 2)
        # A newcomer takes the free slot.
        newcomer = PostgresSlots(engines[1])
        await newcomer.acquire()
        assert newcomer.slot == 1 and newcomer.partition == Partition(1, 3)
        await newcomer.release()
    finally:
        for slot in slots:
            await slot.release()
        for engine in engines:
            await engine.dispose()


async def test_claims_follow_the_partition(db_url: str) -> None:
    engine = create_engine(db_url, keyring=TEST_KEYRING)
    uow = UnitOfWorkFactory(create_session_factory(engine))
    chats = [-100222, -100111, -7, 1, 2, 3, 10, 11]
    try:
        async with uow() as u:
            await u.outbox.enqueue_many(
                [
                    {
                        "chat_id": chat,
                        "method": "sendMessage",
                        "payload": {"chat_id": chat, "text": "x"},
                        "priority": 3,
                        "status": "pending",
                        "attempts": 0,
                        "next_attempt_at": NOW,
                        "created_at": NOW,
                    }
                    for chat in chats
                ]
            )
            await u.commit()
        claimed: dict[int, list[int]] = {}
        for rank in (0, 1, 2):
            async with uow() as u:
                rows = await u.outbox.claim(NOW, 100, timedelta(minutes=1), shard=(rank, 3))
                claimed[rank] = sorted(r.chat_id for r in rows)
                await u.commit()
        assert claimed == {
            rank: sorted(c for c in chats if Partition(rank, 3).owns(c)) for rank in (0, 1, 2)
        }
    finally:
        await engine.dispose()


@pytest.fixture(name="sandbox_limited")
def fx_sandbox_limited() -> Iterator[Sandbox]:
    sandbox = Sandbox(limits=True)  # Telegram's 30/s overall, enforced with 429s
    yield sandbox
    sandbox.stop()


async def test_two_worker_processes_share_a_fanout(
    db_url: str, sandbox_limited: Sandbox, tmp_path: Path
) -> None:
    _postgres_only(db_url)
    n = 450  # 15 s at 30/s
    config = write_config(tmp_path)
    await seed_due_patients(db_url, await sync_cohort(db_url, config), n, datetime.now(UTC))
    workers = [
        Worker.start(
            database_url=db_url, sandbox=sandbox_limited, config=config, log=tmp_path / f"w{i}"
        )
        for i in range(2)
    ]
    try:
        stats = await asyncio.to_thread(wait_for, sandbox_limited, n, 60.0, every=0.2)
        await asyncio.sleep(1.0)  # anything doubled would arrive now
        stats = sandbox_limited.stats()
    finally:
        for worker in workers:
            worker.stop()
    logs = [worker.output() for worker in workers]
    assert len(stats["per_chat"]) == n, logs[0][-2000:]
    assert duplicates(stats) == 0
    # Each kept to 14/s: together within 30/s, so the server refused next to nothing (a
    # few sends delayed on the way by a busy machine). Two workers at 30/s each would have
    # had about half of everything refused.
    assert stats["rate_limited"] <= n // 30, stats["rate_limited"]
    joined = "\n".join(logs)
    assert "delivery worker 1 of 2" in joined and "delivery worker 2 of 2" in joined
    # Both ran the due scan: every patient got one check-in and one prompt.
    engine = create_engine(db_url, keyring=TEST_KEYRING)
    try:
        async with engine.connect() as connection:
            checkins = await connection.scalar(select(func.count()).select_from(Checkin))
            prompts = await connection.scalar(
                select(func.count())
                .select_from(OutboxMessage)
                .where(OutboxMessage.chat_id > 0, OutboxMessage.status == "sent")
            )
    finally:
        await engine.dispose()
    assert (checkins, prompts) == (n, n)
