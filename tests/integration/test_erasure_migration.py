"""Migration 0013 on a database in use: accepted invites get their patient, nothing is lost."""

from __future__ import annotations

import asyncio

from alembic import command
from sqlalchemy import text

from storage.db import create_engine
from storage.migrate import alembic_config, upgrade_async
from tests.support.seed_sql import cohort_and_patient

T = "'2026-01-01 00:00:00'"
SEED = [
    *cohort_and_patient(T),
    "INSERT INTO invites (id, cohort_id, label, code_hash, status, claimed_by_user_id,"
    " created_by, created_at, expires_at) VALUES"
    f" (1, 1, 'P-1', 'h1', 'accepted', 4242, 'cli', {T}, {T}),"
    f" (2, 1, 'P-2', 'h2', 'declined', NULL, 'cli', {T}, {T}),"
    f" (3, 1, 'P-3', 'h3', 'claimed', 777, 'cli', {T}, {T})",
    "INSERT INTO alerts (id, cohort_id, patient_id, rule, tier, status, dedup_key, created_at,"
    " group_message_id, reraised_count, after_hours, head_id) VALUES"
    f" (5, 1, 1, 'a', 'IMMEDIATE', 'open', 'k5', {T}, 77, 0, false, 5)",
    "INSERT INTO outbox (id, dedup_key, chat_id, method, payload, priority, status, attempts,"
    " next_attempt_at, created_at, telegram_message_id) VALUES"
    f" (10, 'alert:5', -100, 'sendMessage', '{{}}', 0, 'sent', 0, {T}, {T}, 77)",
    "INSERT INTO alert_posts (id, head_id, step, outbox_id) VALUES (1, 5, 0, 10)",
]


async def test_0013_links_accepted_invites_and_keeps_alert_posts(db_url: str) -> None:
    await asyncio.to_thread(command.downgrade, alembic_config(db_url), "0011")
    engine = create_engine(db_url)
    try:
        try:
            async with engine.begin() as connection:
                for statement in SEED:
                    await connection.execute(text(statement))
        finally:
            await upgrade_async(db_url)  # the database is shared with later tests (PostgreSQL)
        async with engine.connect() as connection:
            invites = (await connection.execute(text("SELECT id, patient_id FROM invites"))).all()
            posts = (
                await connection.execute(text("SELECT head_id, outbox_id FROM alert_posts"))
            ).all()
            alerts = (await connection.execute(text("SELECT id, patient_id FROM alerts"))).all()
    finally:
        await engine.dispose()
    assert sorted(tuple(r) for r in invites) == [(1, 1), (2, None), (3, None)]
    assert [tuple(r) for r in posts] == [(5, 10)]
    assert [tuple(r) for r in alerts] == [(5, 1)]
