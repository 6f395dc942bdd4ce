"""Encryption at rest (issue 15, item 2): after a real free-text message, a note, a crisis
phrase and a /messages reading, the database holds none of what the patient wrote, in any
table: SQLite's files byte for byte (the WAL too), PostgreSQL's rows as SQL text. The bot
still reads it all back (the group saw it; /messages showed it)."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import asyncpg
import pytest
from sqlalchemy import select
from sqlalchemy.engine import make_url

from bot.config import AppConfig, load_config
from storage.models import Alert, Base, PatientMessage
from tests.e2e.conftest import GROUP_C
from tests.e2e.flows import CALM_DAY, answer_all, enrol, last
from tests.support.harness import Harness

NOTE = "Slept badly: the zebra quartz neighbours again"
MESSAGE = "Walrus harbour day, and I took all my pills this morning"
PHRASE = "took all my pills"
SECRETS = ("zebra quartz", "Walrus harbour", PHRASE)


@pytest.fixture(name="config")
def fx_config_sharing(config_path: Path) -> AppConfig:
    """Every cohort shares text, so the patient's words also travel in the outbox."""
    config = load_config(config_path)
    cohorts = tuple(c.model_copy(update={"share_text_with_group": True}) for c in config.cohorts)
    return dataclasses.replace(config, cohorts=cohorts)


async def _database_text(db_url: str) -> bytes:
    """Everything the database holds: SQLite's files, or every PostgreSQL row as text."""
    url = make_url(db_url)
    if url.get_backend_name() == "sqlite":
        assert url.database is not None
        main = Path(url.database)
        files = [main, *main.parent.glob(f"{main.name}-*")]  # -wal, -shm
        return b"".join(path.read_bytes() for path in files if path.exists())
    connection = await asyncpg.connect(url.set(drivername="postgresql").render_as_string(False))
    try:
        dump: list[str] = []
        for table in Base.metadata.sorted_tables:
            rows = await connection.fetch(f'SELECT t::text FROM "{table.name}" t')
            dump.extend(row[0] for row in rows)
    finally:
        await connection.close()
    return "\n".join(dump).encode()


async def test_no_plaintext_of_what_a_patient_wrote_is_stored(harness: Harness) -> None:
    h = harness
    noa = h.server.user(6201, first_name="Noa")
    await enrol(h, noa, "P-ENC1", cohort="clinic-c")
    await h.send(noa, "/checkin")
    await answer_all(h, noa, CALM_DAY)
    await h.send(noa, NOTE)
    await h.send(noa, MESSAGE)
    nurse = h.server.group(GROUP_C).member(9401, first_name="Nurse", status="administrator")
    await h.send(nurse, "/messages P-ENC1")
    await h.settle()

    # The bot reads it all: stored, shared with the group, alerted on, shown to /messages.
    bodies = await h.rows(select(PatientMessage.body).order_by(PatientMessage.id))
    assert bodies == [NOTE, MESSAGE]
    alert = await h.scalar(select(Alert))
    assert alert is not None and alert.details == {"kind": "crisis_words", "phrase": PHRASE}
    group = "\n".join(m.text for m in h.server.group(GROUP_C).messages)
    assert "zebra quartz" in group and "Walrus harbour" in group
    assert "zebra quartz" in last(nurse).text and "Walrus harbour" in last(nurse).text

    stored = await _database_text(h.db_url)
    assert b"P-ENC1" in stored  # the dump is real: the label is there, in plain
    for secret in SECRETS:
        assert secret.encode() not in stored, secret
        assert secret.lower().encode() not in stored.lower(), secret
