"""Migration 0019 on a database in use: check-ins in progress name their question by id."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest
from alembic import command
from sqlalchemy import inspect, text
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.config import load_config
from bot.ops.cli import main
from storage.db import create_engine
from storage.migrate import alembic_config, upgrade, upgrade_async
from tests.support.keys import TEST_KEYS
from tests.support.seed_sql import cohort_and_patient

T = "'2026-01-12 14:00:00'"
SEED = [
    *cohort_and_patient(T),
]
CHECKINS = {
    # id: (questionnaire, status, position, draft)
    1: ("daily", "open", 2, None),
    2: ("daily", "open", 5, '{"position": 5, "selected": ["nausea", "dizzy"]}'),
    3: ("daily/phq9+gad7", "completed", 10, None),  # answering its weekly part
    4: ("daily/phq9+gad7", "skipped", 9, None),  # the day skipped, the weekly part asked
    5: ("daily/phq9+gad7", "completed", 27, None),  # both parts done
    6: ("daily", "completed", 9, None),
    7: ("daily", "missed", 0, None),
    8: ("gone", "open", 1, None),  # a questionnaire the configuration no longer has
}
ITEMS = {1: "sleep", 2: "side_effects", 3: "phq9_2", 4: "phq9_1"}
"""What the check-ins in progress ask, by id; the others have nothing left to ask."""


def _seed_statements() -> list[str]:
    rows = []
    for checkin_id, (key, status, position, draft) in CHECKINS.items():
        draft_sql = "NULL" if draft is None else f"'{draft}'"
        rows.append(
            "INSERT INTO checkins (id, patient_id, local_date, timezone, questionnaire, status,"
            " position, opened_at, closes_at, draft, version) VALUES"
            f" ({checkin_id}, 1, '2026-01-{checkin_id:02d}', 'UTC', '{key}', '{status}',"
            f" {position}, {T}, {T}, {draft_sql}, 0)"
        )
    return SEED + rows


def _orders(config_path: Path) -> dict[str, list[str]]:
    config = load_config(config_path)
    return {key: [i.id for i in q.items] for key, q in config.questionnaires.items()}


def _migrate(url: str, revision: str, orders: dict[str, list[str]] | None) -> None:
    config = alembic_config(url)
    config.attributes["item_orders"] = orders
    if revision == "0018":
        command.downgrade(config, revision)
    else:
        command.upgrade(config, revision)


async def _seed(engine: AsyncEngine) -> None:
    async with engine.begin() as connection:
        for statement in _seed_statements():
            await connection.execute(text(statement))


async def _rows(engine: AsyncEngine, column: str) -> dict[int, tuple[Any, Any]]:
    """Check-in id -> (``column``, draft)."""
    async with engine.connect() as connection:
        rows = (
            await connection.execute(
                text(f"SELECT id, {column}, CAST(draft AS TEXT) FROM checkins")
            )
        ).all()
    return {row[0]: (row[1], None if row[2] is None else json.loads(row[2])) for row in rows}


async def _columns(engine: AsyncEngine) -> set[str]:
    async with engine.connect() as connection:
        return await connection.run_sync(
            lambda sync: {c["name"] for c in inspect(sync).get_columns("checkins")}
        )


async def test_0019_names_the_question_of_each_check_in_in_progress(
    db_url: str, config_path: Path
) -> None:
    orders = _orders(config_path)
    await asyncio.to_thread(_migrate, db_url, "0018", None)
    engine = create_engine(db_url)
    try:
        try:
            await _seed(engine)
        finally:
            # The database is shared with later tests (PostgreSQL): back to the head.
            await upgrade_async(db_url, item_orders=orders)
        assert "position" not in await _columns(engine)
        named = await _rows(engine, "item")
        assert {k: item for k, (item, _) in named.items() if item is not None} == ITEMS
        assert named[2][1] == {"item": "side_effects", "selected": ["nausea", "dizzy"]}

        # And back: the positions they had (what has nothing left to ask: 0).
        await asyncio.to_thread(_migrate, db_url, "0018", orders)
        try:
            positions = await _rows(engine, "position")
        finally:
            await upgrade_async(db_url, item_orders=orders)
    finally:
        await engine.dispose()
    assert {k: p for k, (p, _) in positions.items()} == {
        1: 2,
        2: 5,
        3: 10,
        4: 9,
        5: 0,
        6: 0,
        7: 0,
        8: 0,
    }
    assert positions[2][1] == {"position": 5, "selected": ["nausea", "dizzy"]}


async def test_0019_without_the_questionnaires_stops_before_changing_anything(
    db_url: str, config_path: Path
) -> None:
    await asyncio.to_thread(_migrate, db_url, "0018", None)
    engine = create_engine(db_url)
    try:
        try:
            await _seed(engine)
            with pytest.raises(RuntimeError, match="moodcheck db upgrade"):
                await upgrade_async(db_url)
            assert "position" in await _columns(engine)
            assert "item" not in await _columns(engine)
            kept = await _rows(engine, "position")
            assert {k: p for k, (p, _) in kept.items()} == {
                k: row[2] for k, row in CHECKINS.items()
            }
        finally:
            await upgrade_async(db_url, item_orders=_orders(config_path))
        assert (await _rows(engine, "item"))[1][0] == "sleep"
    finally:
        await engine.dispose()


@pytest.mark.usefixtures("restore_logging")
def test_db_upgrade_passes_the_configured_questionnaires(
    tmp_path: Path, config_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = f"sqlite:///{tmp_path / 'in-use.db'}"
    upgrade(url, "0018")

    async def in_use(column: str | None) -> dict[int, tuple[Any, Any]]:
        engine = create_engine(url)
        try:
            if column is None:
                await _seed(engine)
                return {}
            return await _rows(engine, column)
        finally:
            await engine.dispose()

    asyncio.run(in_use(None))
    monkeypatch.setenv("MOODCHECK_DATABASE_URL", url)
    monkeypatch.setenv("MOODCHECK_CONFIG", str(config_path))
    monkeypatch.setenv("MOODCHECK_DATA_KEYS", TEST_KEYS)
    assert main(["db", "upgrade"]) == 0
    named = asyncio.run(in_use("item"))
    assert {k: item for k, (item, _) in named.items() if item is not None} == ITEMS
