"""Storage on real databases: constraints, the unit of work, outbox claims, migrations."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import func, select, text, update
from sqlalchemy.engine import Connection

from storage.db import create_engine, create_session_factory
from storage.migrate import SchemaBehindError, check_schema, head_revision
from storage.models import Base, Checkin, Cohort, OutboxMessage, Patient
from storage.repositories.checkins import NewCheckin
from storage.repositories.cohorts import CohortValues
from storage.repositories.side_checks import NewSideCheck
from storage.uow import UnitOfWork, UnitOfWorkFactory
from tests.support.keys import TEST_KEYRING

NOW = datetime(2026, 1, 12, 13, 0, tzinfo=UTC)


@pytest.fixture(name="uow")
async def fx_uow(db_url: str) -> AsyncIterator[UnitOfWorkFactory]:
    engine = create_engine(db_url, keyring=TEST_KEYRING)
    yield UnitOfWorkFactory(create_session_factory(engine))
    await engine.dispose()


async def _patient(uow: UnitOfWorkFactory, user_id: int = 1001) -> tuple[int, int]:
    async with uow() as u:
        cohort = await u.cohorts.upsert(
            {
                "name": "c",
                "provider_chat_id": -1,
                "timezone": "UTC",
                "locale": "en",
                "region": "US",
                "questionnaire": "daily",
            },
            NOW,
        )
        patient = Patient(
            cohort_id=cohort.id,
            label=f"P-{user_id}",
            telegram_user_id=user_id,
            chat_id=user_id,
            status="active",
            locale="en",
            timezone="UTC",
            checkin_time="09:00",
            next_prompt_at=NOW,
            consented_at=NOW,
            created_at=NOW,
            updated_at=NOW,
        )
        u.patients.add(patient)
        await u.session.flush()
        await u.commit()
        return cohort.id, patient.id


def _checkin(patient_id: int, day: date) -> NewCheckin:
    return {
        "patient_id": patient_id,
        "local_date": day,
        "timezone": "UTC",
        "questionnaire": "daily",
        "status": "open",
        "item": "mood",
        "opened_at": NOW,
        "closes_at": NOW + timedelta(hours=10),
        "version": 0,
    }


async def test_timestamps_come_back_aware_utc(uow: UnitOfWorkFactory) -> None:
    _, patient_id = await _patient(uow)
    async with uow() as u:
        patient = await u.patients.get(patient_id)
        assert patient is not None
        assert patient.next_prompt_at == NOW
        assert patient.next_prompt_at.tzinfo is not None
        assert patient.next_prompt_at.utcoffset() == timedelta(0)


async def test_naive_datetimes_are_refused(uow: UnitOfWorkFactory) -> None:
    _, patient_id = await _patient(uow)
    async with uow() as u:
        patient = await u.patients.get(patient_id)
        assert patient is not None
        patient.next_prompt_at = datetime(2026, 1, 1, 9, 0)
        with pytest.raises(Exception, match="naive"):
            await u.session.flush()


async def test_one_checkin_per_patient_and_day(uow: UnitOfWorkFactory) -> None:
    _, patient_id = await _patient(uow)
    async with uow() as u:
        first, created_first = await u.checkins.open_for_day(
            _checkin(patient_id, date(2026, 1, 12))
        )
        again, created_again = await u.checkins.open_for_day(
            _checkin(patient_id, date(2026, 1, 12))
        )
        other, created_other = await u.checkins.open_for_day(
            _checkin(patient_id, date(2026, 1, 13))
        )
        await u.commit()
    assert (created_first, created_again, created_other) == (True, False, True)
    assert first.id == again.id != other.id


async def test_one_side_check_per_patient_kind_and_day(uow: UnitOfWorkFactory) -> None:
    _, patient_id = await _patient(uow)

    def row(kind: str, day: date) -> NewSideCheck:
        return {
            "patient_id": patient_id,
            "kind": kind,
            "local_date": day,
            "items": {"ids": ["bp"]},
            "answers": {},
            "position": 0,
            "status": "open",
            "opened_at": NOW,
            "closes_at": NOW + timedelta(hours=4),
        }

    async with uow() as u:
        first = await u.side_checks.add_if_absent(row("post_dose", date(2026, 1, 12)))
        again = await u.side_checks.add_if_absent(row("post_dose", date(2026, 1, 12)))
        other = await u.side_checks.add_if_absent(row("optional", date(2026, 1, 12)))
        await u.commit()
    assert first is not None and other is not None and again is None
    async with uow() as u:
        assert [c.id for c in await u.side_checks.closing(NOW + timedelta(hours=4), 10)] == [
            first.id,
            other.id,
        ]
        assert await u.side_checks.closing(NOW + timedelta(hours=3), 10) == []


async def _tapped_checkin(uow: UnitOfWorkFactory) -> int:
    _, patient_id = await _patient(uow)
    async with uow() as u:
        checkin, _ = await u.checkins.open_for_day(_checkin(patient_id, date(2026, 1, 12)))
        await u.commit()
        return checkin.id


async def _checkin_of(u: UnitOfWork, checkin_id: int) -> Checkin:
    found = await u.checkins.with_patient(checkin_id)
    assert found is not None
    return found[0]


async def _stored(uow: UnitOfWorkFactory, checkin_id: int) -> Checkin:
    async with uow.reading() as u:
        return await _checkin_of(u, checkin_id)


async def test_a_tap_writes_its_columns_once_without_the_orm(uow: UnitOfWorkFactory) -> None:
    checkin_id = await _tapped_checkin(uow)
    async with uow() as u:
        checkin = await _checkin_of(u, checkin_id)
        checkin.version += 1
        checkin.item = "side_effects"
        checkin.draft = {"item": "side_effects", "selected": ["a", "b"]}
        await u.checkins.write_tapped(checkin)
        assert checkin not in u.session  # the ORM has nothing left to write
        await u.commit()
    stored = await _stored(uow, checkin_id)
    assert (stored.version, stored.item, stored.draft) == (1, "side_effects", checkin.draft)


async def test_a_tap_that_changed_more_is_written_by_the_orm(uow: UnitOfWorkFactory) -> None:
    checkin_id = await _tapped_checkin(uow)
    async with uow() as u:
        checkin = await _checkin_of(u, checkin_id)
        checkin.version += 1
        checkin.reminded_at = NOW  # not a column a tap changes
        await u.checkins.write_tapped(checkin)
        assert checkin in u.session
        await u.commit()
    stored = await _stored(uow, checkin_id)
    assert (stored.version, stored.reminded_at) == (1, NOW)


async def test_one_answer_per_checkin_and_item(uow: UnitOfWorkFactory) -> None:
    _, patient_id = await _patient(uow)
    async with uow() as u:
        checkin, _ = await u.checkins.open_for_day(_checkin(patient_id, date(2026, 1, 12)))
        assert await u.checkins.add_answer(checkin.id, "mood", "5", NOW)
        assert not await u.checkins.add_answer(checkin.id, "mood", "7", NOW)
        assert await u.checkins.add_answer(checkin.id, "anxiety", "2", NOW)
        await u.commit()
    async with uow() as u:
        assert await u.checkins.answers(checkin.id) == {"mood": "5", "anxiety": "2"}


async def test_leaving_without_commit_stores_nothing(uow: UnitOfWorkFactory) -> None:
    _, patient_id = await _patient(uow)
    with pytest.raises(RuntimeError):
        async with uow() as u:
            await u.checkins.open_for_day(_checkin(patient_id, date(2026, 1, 12)))
            raise RuntimeError("boom")
    async with uow() as u:
        assert await u.session.scalar(select(func.count()).select_from(Checkin)) == 0


async def test_processed_update_claimed_once(uow: UnitOfWorkFactory) -> None:
    async with uow() as u:
        assert await u.updates.claim(42, NOW)
        assert not await u.updates.claim(42, NOW)
        await u.commit()
    async with uow() as u:
        assert not await u.updates.claim(42, NOW)


async def _queue(uow: UnitOfWorkFactory, rows: list[tuple[int, int, str | None]]) -> list[int]:
    """Queue (chat, priority, dedup) rows; return their ids."""
    async with uow() as u:
        for chat, priority, dedup in rows:
            await u.outbox.enqueue(
                {
                    "dedup_key": dedup,
                    "chat_id": chat,
                    "method": "sendMessage",
                    "payload": {"chat_id": chat, "text": "x"},
                    "priority": priority,
                    "status": "pending",
                    "attempts": 0,
                    "next_attempt_at": NOW,
                    "created_at": NOW,
                }
            )
        await u.commit()
    async with uow() as u:
        return list(await u.session.scalars(select(OutboxMessage.id).order_by(OutboxMessage.id)))


async def test_outbox_dedup_key(uow: UnitOfWorkFactory) -> None:
    ids = await _queue(uow, [(1, 3, "prompt:1"), (1, 3, "prompt:1"), (1, 3, None), (1, 3, None)])
    assert len(ids) == 3


async def test_outbox_claim_order_and_per_chat_fifo(uow: UnitOfWorkFactory) -> None:
    # chat 1: routine, routine, crisis; chat 2: routine; chat 3: interactive
    ids = await _queue(uow, [(1, 3, None), (1, 3, None), (1, 0, None), (2, 3, None), (3, 1, None)])
    async with uow() as u:
        claimed = await u.outbox.claim(NOW, 10, timedelta(minutes=1))
        await u.commit()
    # Crisis first; the second routine message of chat 1 waits behind the first.
    assert [r.id for r in claimed] == [ids[2], ids[4], ids[0], ids[3]]
    async with uow() as u:
        # Leased rows are not claimed again, and still hold back their chat's queue.
        assert await u.outbox.claim(NOW, 10, timedelta(minutes=1)) == []
        await u.outbox.apply([{"id": ids[0], "status": "sent", "lease_until": None}])
        await u.commit()
    async with uow() as u:
        assert [r.id for r in await u.outbox.claim(NOW, 10, timedelta(minutes=1))] == [ids[1]]


async def test_outbox_lease_expires_for_a_dead_worker(uow: UnitOfWorkFactory) -> None:
    ids = await _queue(uow, [(1, 3, None)])
    async with uow() as u:
        assert len(await u.outbox.claim(NOW, 10, timedelta(minutes=1))) == 1
        await u.commit()
    async with uow() as u:
        later = NOW + timedelta(minutes=2)
        assert [r.id for r in await u.outbox.claim(later, 10, timedelta(minutes=1))] == ids


async def test_outbox_retry_time_is_respected(uow: UnitOfWorkFactory) -> None:
    ids = await _queue(uow, [(1, 3, None)])
    async with uow() as u:
        await u.outbox.apply([{"id": ids[0], "next_attempt_at": NOW + timedelta(seconds=30)}])
        await u.commit()
    async with uow() as u:
        assert await u.outbox.claim(NOW, 10, timedelta(minutes=1)) == []
        assert (
            len(await u.outbox.claim(NOW + timedelta(seconds=30), 10, timedelta(minutes=1))) == 1
        )


async def test_migrations_match_the_models(db_url: str) -> None:
    engine = create_engine(db_url, keyring=TEST_KEYRING)

    def diff(connection: Connection) -> list[Any]:
        return list(compare_metadata(MigrationContext.configure(connection), Base.metadata))

    try:
        async with engine.connect() as connection:
            differences = await connection.run_sync(diff)
    finally:
        await engine.dispose()
    assert differences == []


async def test_schema_check_says_how_to_fix(db_url: str) -> None:
    await check_schema(db_url)  # migrated: fine
    engine = create_engine(db_url, keyring=TEST_KEYRING)
    async with engine.begin() as connection:
        await connection.execute(text("UPDATE alembic_version SET version_num = 'old'"))
    await engine.dispose()
    with pytest.raises(SchemaBehindError, match="moodcheck db upgrade") as info:
        await check_schema(db_url)
    assert head_revision() in str(info.value)
    engine = create_engine(db_url, keyring=TEST_KEYRING)
    async with engine.begin() as connection:
        await connection.execute(
            text(f"UPDATE alembic_version SET version_num = '{head_revision()}'")
        )
    await engine.dispose()


async def test_cohort_upsert_follows_config(uow: UnitOfWorkFactory) -> None:
    values: CohortValues = {
        "name": "c",
        "provider_chat_id": -1,
        "timezone": "UTC",
        "locale": "en",
        "region": "US",
        "questionnaire": "daily",
    }
    async with uow() as u:
        await u.cohorts.upsert(values, NOW)
        await u.cohorts.upsert({**values, "provider_chat_id": -2}, NOW)
        await u.commit()
    async with uow() as u:
        rows = (await u.session.scalars(select(Cohort))).all()
    assert [(c.name, c.provider_chat_id) for c in rows] == [("c", -2)]


async def test_database_errors_carry_no_patient_data(uow: UnitOfWorkFactory) -> None:
    _, patient_id = await _patient(uow)
    async with uow() as u:
        await u.checkins.open_for_day(_checkin(patient_id, date(2026, 1, 12)))
        await u.commit()
    with pytest.raises(Exception) as info:  # noqa: PT011 - any driver's IntegrityError
        async with uow() as u:
            u.session.add(
                Checkin(
                    **{**_checkin(patient_id, date(2026, 1, 12)), "timezone": "Secret/Zone-Marker"}
                )
            )
            await u.session.flush()
    assert "Secret/Zone-Marker" not in str(info.value)


async def test_housekeeping_blanks_old_payloads_and_forgets_old_updates(
    uow: UnitOfWorkFactory,
) -> None:
    ids = await _queue(uow, [(1, 3, "old-sent"), (1, 3, "old-pending"), (2, 3, "new-sent")])
    async with uow() as u:
        await u.outbox.apply([{"id": ids[0], "status": "sent"}, {"id": ids[2], "status": "sent"}])
        # Queued a week later (nothing but a test moves a message's creation time).
        await u.session.execute(
            update(OutboxMessage)
            .where(OutboxMessage.id == ids[2])
            .values(created_at=NOW + timedelta(days=8))
        )
        assert await u.updates.claim(1, NOW)
        assert await u.updates.claim(2, NOW + timedelta(days=8))
        await u.commit()
    later = NOW + timedelta(days=8)
    async with uow() as u:
        assert (
            await u.outbox.scrub_finished(later - timedelta(days=7), 10, cohort_id=None, chats=[])
            == 1
        )
        assert await u.updates.forget(later - timedelta(days=7), 10) == 1
        await u.commit()
    async with uow() as u:
        rows = {r.id: r for r in (await u.session.scalars(select(OutboxMessage))).all()}
        # Once blanked, a row is not counted again (the scan would never end otherwise).
        assert (
            await u.outbox.scrub_finished(later - timedelta(days=7), 10, cohort_id=None, chats=[])
            == 0
        )
        assert not await u.updates.claim(2, later)  # recent ones still guard replays
        assert await u.updates.claim(1, later)  # forgotten
    assert rows[ids[0]].payload == {}
    assert rows[ids[0]].chat_id == 0  # a private chat's id goes with the payload
    assert rows[ids[1]].payload != {}  # still pending: never blanked
    assert rows[ids[1]].chat_id == 1
    assert rows[ids[2]].payload != {}  # too recent


async def test_a_read_only_unit_of_work_does_not_wait_for_a_writer(
    uow: UnitOfWorkFactory,
) -> None:
    _, patient_id = await _patient(uow)
    async with uow() as writer:
        await writer.checkins.open_for_day(_checkin(patient_id, date(2026, 1, 12)))
        # The writer holds its transaction (on SQLite: the write lock). A reader still reads,
        # at once, what was committed before.
        async with asyncio.timeout(2):
            async with uow.reading() as reader:
                assert await reader.patients.get(patient_id) is not None
                assert await reader.session.scalar(select(func.count(Checkin.id))) == 0
                with pytest.raises(RuntimeError, match="read-only"):
                    await reader.commit()
        await writer.commit()
