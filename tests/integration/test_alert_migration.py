"""Migration 0005 on a database with alerts posted before it: their buttons keep working."""

from __future__ import annotations

import asyncio

from alembic import command
from sqlalchemy import text

from storage.db import create_engine
from storage.migrate import alembic_config, upgrade_async
from tests.support.keys import TEST_KEYRING
from tests.support.seed_sql import cohort_and_patient

T = "'2026-01-01 00:00:00'"
SEED = [
    *cohort_and_patient(T, user=1),
    # One event of two alerts, posted as message 77 and raised again once; a stored ROUTINE.
    "INSERT INTO alerts (id, cohort_id, patient_id, rule, tier, status, dedup_key, created_at,"
    " group_message_id, reraised_count, after_hours) VALUES"
    f" (5, 1, 1, 'a', 'IMMEDIATE', 'open', 'k5', {T}, 77, 1, false),"
    f" (6, 1, 1, 'b', 'URGENT', 'open', 'k6', {T}, 77, 0, false),"
    f" (7, 1, 1, 'c', 'ROUTINE', 'open', 'k7', {T}, NULL, 0, false)",
    "INSERT INTO outbox (id, dedup_key, chat_id, method, payload, priority, status, attempts,"
    " next_attempt_at, created_at, telegram_message_id) VALUES"
    f" (10, 'alert:5', -100, 'sendMessage', '{{}}', 0, 'sent', 0, {T}, {T}, 77),"
    f" (11, 'alert_reraise:5:1', -100, 'sendMessage', '{{}}', 0, 'sent', 0, {T}, {T}, 78),"
    f" (12, 'alert_reraise:55:1', -100, 'sendMessage', '{{}}', 0, 'sent', 0, {T}, {T}, 79)",
]


async def test_0005_gives_old_events_their_heads_and_messages(db_url: str) -> None:
    await asyncio.to_thread(command.downgrade, alembic_config(db_url), "0004")
    engine = create_engine(db_url, keyring=TEST_KEYRING)
    try:
        try:
            async with engine.begin() as connection:
                for statement in SEED:
                    await connection.execute(text(statement))
        finally:
            await upgrade_async(
                db_url, keyring=TEST_KEYRING
            )  # the database is shared with later tests (PostgreSQL)
        async with engine.connect() as connection:
            heads = (await connection.execute(text("SELECT id, head_id FROM alerts"))).all()
            posts = (
                await connection.execute(text("SELECT head_id, step, outbox_id FROM alert_posts"))
            ).all()
    finally:
        await engine.dispose()
    assert sorted(tuple(row) for row in heads) == [(5, 5), (6, 5), (7, None)]
    assert sorted(tuple(row) for row in posts) == [(5, 0, 10), (5, 1, 11)]
