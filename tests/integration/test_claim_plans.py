"""The delivery worker's per-message queries stay flat however long the queue is: each one
reads the outbox through an index bounded by the chat or the row, never by the backlog.

Checked on the plans themselves (SQLite's ``EXPLAIN QUERY PLAN``, PostgreSQL's ``EXPLAIN``) on
an outbox holding 20,000 rows, so that a new index or a change of statistics that makes a
planner walk the queue fails here instead of slowing delivery down as the backlog grows
(a claim on the (status, priority, id) index once grew with the queue: docs/performance.md,
"Figures behind constants in the code").

SQLite is checked both before ``ANALYZE`` (how a bot's database usually is: nothing runs it)
and after. PostgreSQL is checked after ``ANALYZE`` (autovacuum gathers statistics on its own
as the table grows); on an empty table's default estimates it may plan anything, since
every plan is cheap there.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncEngine

from storage.db import create_engine, create_session_factory
from storage.uow import UnitOfWorkFactory

QUEUED = 20_000
NOW = datetime(2026, 1, 5, 12, 0, tzinfo=UTC)

FILL_SQLITE = f"""
WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < {QUEUED})
INSERT INTO outbox (chat_id, method, payload, priority, status, attempts, next_attempt_at,
                    created_at)
SELECT 10000000 + i, 'sendMessage', '{{}}', 1 + i % 3,
       CASE WHEN i % 4 = 0 THEN 'sent' ELSE 'pending' END, 0,
       '2026-01-05 11:00:00.000000', '2026-01-05 11:00:00.000000'
FROM n
"""
FILL_POSTGRES = f"""
INSERT INTO outbox (chat_id, method, payload, priority, status, attempts, next_attempt_at,
                    created_at)
SELECT 10000000 + i, 'sendMessage', '{{}}', 1 + i % 3,
       CASE WHEN i % 4 = 0 THEN 'sent' ELSE 'pending' END, 0,
       TIMESTAMPTZ '2026-01-05 11:00:00+00', TIMESTAMPTZ '2026-01-05 11:00:00+00'
FROM generate_series(1, {QUEUED}) AS i
"""


@dataclass
class _Captured:
    """The SQL a piece of code ran, as the driver received it."""

    statements: list[tuple[str, Any]] = field(default_factory=list)
    on: bool = False


@pytest.fixture(name="engine")
async def fx_engine(db_url: str) -> AsyncIterator[AsyncEngine]:
    engine = create_engine(db_url)
    try:
        async with engine.connect() as connection:
            postgres = connection.dialect.name == "postgresql"
            await connection.exec_driver_sql(FILL_POSTGRES if postgres else FILL_SQLITE)
            await connection.commit()
        yield engine
    finally:
        await engine.dispose()


async def _run_worker_queries(engine: AsyncEngine) -> list[tuple[str, Any]]:
    """Run the worker's per-message queries through the repository (every form of the
    claim, its lease, one outcome) and return what reached the driver; roll it all back."""
    captured = _Captured()

    def capture(
        _conn: Any, _cursor: Any, statement: str, parameters: Any, _context: Any, many: bool
    ) -> None:
        if captured.on:
            first = parameters[0] if many else parameters
            captured.statements.append((statement, first))

    event.listen(engine.sync_engine, "before_cursor_execute", capture)
    try:
        async with UnitOfWorkFactory(create_session_factory(engine))() as uow:
            captured.on = True
            for urgent, sharded in ((False, False), (True, False), (False, True)):
                rows = await uow.outbox.claim(
                    NOW,
                    16,
                    timedelta(minutes=1),
                    shard=(0, 2) if sharded else None,
                    max_priority=1 if urgent else None,
                )
            assert rows
            await uow.outbox.apply([{"id": rows[0].id, "status": "sent", "lease_until": None}])
            captured.on = False  # and the unit of work ends uncommitted: rolled back
    finally:
        event.remove(engine.sync_engine, "before_cursor_execute", capture)
    return [(sql, params) for sql, params in captured.statements if "outbox" in sql]


async def _plans(engine: AsyncEngine, statements: list[tuple[str, Any]]) -> list[str]:
    async with engine.connect() as connection:
        postgres = connection.dialect.name == "postgresql"
        explain = "EXPLAIN " if postgres else "EXPLAIN QUERY PLAN "
        plans = []
        for sql, params in statements:
            result = await connection.exec_driver_sql(explain + sql, params)
            plans.append("\n".join(str(row[-1]) for row in result.all()))
        await connection.rollback()
    return plans


def _check_sqlite(statements: list[tuple[str, Any]], plans: list[str]) -> None:
    claims = 0
    for (sql, _), plan in zip(statements, plans, strict=True):
        if sql.lstrip().upper().startswith("SELECT"):
            claims += 1
            # The queue in send order, read from its head (the LIMIT stops the walk) ...
            assert "SEARCH outbox USING INDEX ix_outbox_queue (status=?" in plan, plan
            # ... and for each candidate its chat's earlier messages, by the chat's index.
            assert (
                "SEARCH earlier USING INDEX ix_outbox_chat_queue (chat_id=? AND status=? AND id<?)"
                in plan
            ), plan
        else:  # the lease and the outcome: by primary key
            assert "USING INTEGER PRIMARY KEY" in plan, (sql, plan)
        assert "SCAN" not in plan, (sql, plan)
    assert claims == 3


def _check_postgres(statements: list[tuple[str, Any]], plans: list[str]) -> None:
    claims = 0
    for (sql, _), plan in zip(statements, plans, strict=True):
        if sql.lstrip().upper().startswith("SELECT"):
            claims += 1
            assert "Index Scan using ix_outbox_queue on outbox" in plan, plan
            assert "Index Scan using ix_outbox_chat_queue on outbox earlier" in plan, plan
            assert "chat_id = outbox.chat_id" in plan, plan
        else:
            assert "Index Scan using pk_outbox on outbox" in plan, (sql, plan)
        # A scan, a hash or a sort would read every pending message before claiming one.
        for word in ("Seq Scan", "Hash", "Sort", "Bitmap"):
            assert word not in plan, (sql, plan)
    assert claims == 3


async def test_claim_and_outcome_queries_use_bounded_indexes(engine: AsyncEngine) -> None:
    statements = await _run_worker_queries(engine)
    assert len(statements) == 7  # three claims, their leases, one outcome
    if engine.dialect.name == "postgresql":
        async with engine.connect() as connection:
            await connection.exec_driver_sql("ANALYZE outbox")
            await connection.commit()
        _check_postgres(statements, await _plans(engine, statements))
        return
    _check_sqlite(statements, await _plans(engine, statements))  # no statistics, as usual
    async with engine.connect() as connection:
        await connection.exec_driver_sql("ANALYZE")
        await connection.commit()
    _check_sqlite(statements, await _plans(engine, statements))
