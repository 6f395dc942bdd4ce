"""Many writers at once: nothing lost or doubled, and on SQLite no waiting that stops the
event loop (statements run in the loop's thread; see storage/sqlite_inline.py)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import pytest
from sqlalchemy import select, text

from storage.db import create_engine, create_session_factory
from storage.models import Cohort
from storage.uow import UnitOfWorkFactory
from tests.support.keys import TEST_KEYRING

NOW = datetime(2026, 1, 12, 13, 0, tzinfo=UTC)
WRITERS = 40


@pytest.fixture(name="uow")
async def fx_uow(db_url: str) -> AsyncIterator[UnitOfWorkFactory]:
    engine = create_engine(db_url, keyring=TEST_KEYRING)
    yield UnitOfWorkFactory(create_session_factory(engine))
    await engine.dispose()


async def _cohort(uow: UnitOfWorkFactory) -> int:
    async with uow() as u:
        cohort = await u.cohorts.upsert(
            {
                "name": "c",
                "provider_chat_id": -1,
                "timezone": "UTC",
                "locale": "en",
                "region": "US",
                "questionnaire": "daily",
                "checkin_window_hours": 0,
            },
            NOW,
        )
        await u.commit()
        return cohort.id


async def test_concurrent_read_modify_write_loses_nothing(uow: UnitOfWorkFactory) -> None:
    """Each writer reads a counter and writes it back plus one, all at once: every increment
    survives (one writer at a time, none failing with "database is locked")."""
    cohort_id = await _cohort(uow)

    async def increment() -> None:
        async with uow() as u:
            # FOR UPDATE on PostgreSQL; SQLite's writers take turns anyway.
            cohort = await u.session.get(Cohort, cohort_id, with_for_update=True)
            assert cohort is not None
            await asyncio.sleep(0)  # let the others start their transactions meanwhile
            cohort.checkin_window_hours = (cohort.checkin_window_hours or 0) + 1
            await u.commit()

    await asyncio.gather(*(increment() for _ in range(WRITERS)))
    async with uow.reading() as u:
        cohort = await u.cohorts.get(cohort_id)
        assert cohort is not None
        assert cohort.checkin_window_hours == WRITERS


async def test_a_failed_unit_of_work_lets_the_next_writer_in(uow: UnitOfWorkFactory) -> None:
    cohort_id = await _cohort(uow)
    with pytest.raises(RuntimeError, match="boom"):
        async with uow() as u:
            cohort = await u.cohorts.get(cohort_id)
            assert cohort is not None
            cohort.checkin_window_hours = 99
            raise RuntimeError("boom")
    async with asyncio.timeout(5):
        async with uow() as u:
            cohort = await u.cohorts.get(cohort_id)
            assert cohort is not None
            assert cohort.checkin_window_hours == 0  # the failed one stored nothing
            cohort.checkin_window_hours = 3
            await u.commit()


async def test_readers_do_not_wait_for_a_writer(uow: UnitOfWorkFactory) -> None:
    cohort_id = await _cohort(uow)
    async with uow() as writer:
        cohort = await writer.cohorts.get(cohort_id)
        assert cohort is not None
        cohort.region = "ES"
        await writer.session.flush()
        async with asyncio.timeout(5), uow.reading() as reader:
            seen = await reader.session.scalar(select(Cohort.region))
        assert seen == "US"  # the writer has not committed
        await writer.commit()


async def test_sqlite_waits_for_another_connection_without_stopping_the_loop(
    db_url: str, uow: UnitOfWorkFactory
) -> None:
    """Another engine (another process would do the same) holds the write lock for a while:
    our writer waits for it asynchronously, and the event loop keeps running meanwhile."""
    if not db_url.startswith("sqlite"):
        pytest.skip("SQLite's single writer lock")
    cohort_id = await _cohort(uow)
    other = create_engine(db_url, keyring=TEST_KEYRING)
    ticks = 0
    try:
        async with other.connect() as holder:
            await holder.execute(text("UPDATE cohorts SET region = 'MX'"))  # takes the lock
            writing = asyncio.create_task(_set_region(uow, cohort_id, "ES"))
            for _ in range(20):
                await asyncio.sleep(0.01)
                ticks += 1
            assert not writing.done()  # still waiting for the lock ...
            await holder.commit()
        async with asyncio.timeout(5):
            await writing  # ... and gets it once released
    finally:
        await other.dispose()
    assert ticks == 20
    async with uow.reading() as u:
        assert await u.session.scalar(select(Cohort.region)) == "ES"


async def _set_region(uow: UnitOfWorkFactory, cohort_id: int, region: str) -> None:
    async with uow() as u:
        cohort = await u.cohorts.get(cohort_id)
        assert cohort is not None
        cohort.region = region
        await u.commit()
