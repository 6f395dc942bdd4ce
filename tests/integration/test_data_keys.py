"""Data keys on a real database (SQLite and PostgreSQL): rotation, a lost key, a tampered
value, migration 0014 encrypting rows written before it, a new install's key file."""

from __future__ import annotations

import asyncio
import logging
import stat
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from alembic import command
from sqlalchemy import JSON, Text, bindparam, cast, select, text
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.ops.cli import main
from storage.crypto import DataKeyError, Keyring, key_id, new_key, parse_key, parse_keys
from storage.db import create_engine, create_session_factory
from storage.migrate import alembic_config, upgrade_async
from storage.models import Alert, OutboxMessage, PatientMessage
from storage.rekey import Progress, rotate
from tests.support.keys import TEST_KEYRING, TEST_KEYS
from tests.support.seed_sql import cohort_and_patient

NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
T = "'2026-01-01 00:00:00'"
SEED = [
    *cohort_and_patient(T, user=1),
]
TEXTS = [f"message number {n}: the lighthouse keeper" for n in range(7)]


@pytest.fixture(autouse=True, name="quiet_main")
def fx_quiet_main() -> Iterator[None]:
    """main() configures the root logger; undo that after each test."""
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)


async def _seed(engine: AsyncEngine) -> None:
    """A patient with messages, an alert quoting them and outbox rows carrying them."""
    async with engine.begin() as connection:
        for statement in SEED:
            await connection.execute(text(statement))
    async with create_session_factory(engine)() as session:
        for body in TEXTS:
            session.add(PatientMessage(patient_id=1, received_at=NOW, kind="text", body=body))
            session.add(
                OutboxMessage(
                    chat_id=-100,
                    method="sendMessage",
                    payload={"chat_id": -100, "text": body},
                    priority=2,
                    status="sent",
                    next_attempt_at=NOW,
                    created_at=NOW,
                )
            )
        session.add(
            Alert(
                cohort_id=1,
                patient_id=1,
                rule="crisis_words",
                tier="IMMEDIATE",
                status="open",
                dedup_key="a1",
                created_at=NOW,
                details={"kind": "crisis_words", "phrase": "lighthouse keeper"},
            )
        )
        await session.commit()


async def _read_all(engine: AsyncEngine) -> tuple[list[str | None], list[str | None], object]:
    async with create_session_factory(engine)() as session:
        bodies = list((await session.scalars(select(PatientMessage.body))).all())
        payloads = [p.get("text") for p in (await session.scalars(select(OutboxMessage.payload)))]
        details = await session.scalar(select(Alert.details))
    return bodies, payloads, details


async def _stored(engine: AsyncEngine) -> list[str]:
    """The raw stored text of every encrypted value."""
    async with engine.connect() as connection:
        rows = await connection.execute(select(cast(PatientMessage.body, Text)))
        more = await connection.execute(select(cast(OutboxMessage.payload, Text)))
        alert = await connection.execute(select(cast(Alert.details, Text)))
        return [r[0] for r in [*rows, *more, *alert]]


async def test_rotate_moves_every_value_to_the_new_key_resumably(db_url: str) -> None:
    old, new = parse_key(new_key()), parse_key(new_key())
    first = create_engine(db_url, keyring=Keyring([old]))
    both = create_engine(db_url, keyring=Keyring([new, old]))
    only_new = create_engine(db_url, keyring=Keyring([new]))
    try:
        await _seed(first)
        with pytest.raises(DataKeyError, match=f"data key {key_id(old)}, which is not among"):
            await _read_all(only_new)

        steps: list[Progress] = []

        def stop_after_first_batch(step: Progress) -> None:
            steps.append(step)
            if step.done > 0:
                raise KeyboardInterrupt

        with pytest.raises(KeyboardInterrupt):
            await rotate(both, batch=3, progress=stop_after_first_batch)
        stopped = steps[-1]
        assert (stopped.done, stopped.total) == (3, 7)  # one batch of the first column

        steps.clear()
        assert await rotate(both, batch=3, progress=steps.append) == 4 + 7 + 1
        assert Progress(stopped.column, 4, 4) in steps  # resumed: 3 were done
        assert {
            "patient_messages.body",
            "outbox.payload",
            "alerts.details",
            "team_messages.body",
        } == {step.column for step in steps}
        assert all(f"v1:{key_id(new)}:" in value for value in await _stored(both))
        assert await rotate(both) == 0  # nothing left: a second run changes nothing

        bodies, payloads, details = await _read_all(only_new)  # the old key is gone
        assert (
            sorted(b or "" for b in bodies) == sorted(TEXTS) == sorted(p or "" for p in payloads)
        )
        assert details == {"kind": "crisis_words", "phrase": "lighthouse keeper"}
    finally:
        for engine in (first, both, only_new):
            await engine.dispose()


def _run_env(monkeypatch: pytest.MonkeyPatch, db_url: str, keys: str | None) -> None:
    monkeypatch.setenv("MOODCHECK_DATABASE_URL", db_url)
    monkeypatch.setenv("MOODCHECK_TELEGRAM_TOKEN", "1:abc")
    monkeypatch.delenv("MOODCHECK_DATA_KEY_FILE", raising=False)
    if keys is None:
        monkeypatch.delenv("MOODCHECK_DATA_KEYS", raising=False)
    else:
        monkeypatch.setenv("MOODCHECK_DATA_KEYS", keys)


def _one_line(capsys: pytest.CaptureFixture[str]) -> str:
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1, err
    return err[0]


async def test_a_lost_key_stops_the_start_with_one_line(
    db_url: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    config_path: Path,
) -> None:
    engine = create_engine(db_url, keyring=TEST_KEYRING)
    try:
        await _seed(engine)
    finally:
        await engine.dispose()
    monkeypatch.setenv("MOODCHECK_CONFIG", str(config_path))
    other = new_key()
    _run_env(monkeypatch, db_url, other)
    assert await asyncio.to_thread(main, ["run"]) == 2
    line = _one_line(capsys)
    assert f"data key {TEST_KEYRING.newest}, which is not among" in line
    assert "restore that key from your backup" in line and other not in line

    _run_env(monkeypatch, db_url, None)  # no key at all (a PostgreSQL URL names no file)
    assert await asyncio.to_thread(main, ["run"]) == 2
    line = _one_line(capsys)
    assert line.startswith("moodcheck: no data key:") and "MOODCHECK_DATA_KEYS" in line

    _run_env(monkeypatch, db_url, TEST_KEYS)
    assert await asyncio.to_thread(main, ["keys", "rotate"]) == 0  # the right key: works
    assert "every stored value is under key" in capsys.readouterr().err


async def test_a_tampered_value_is_one_clear_error(
    db_url: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    config_path: Path,
) -> None:
    engine = create_engine(db_url, keyring=TEST_KEYRING)
    try:
        await _seed(engine)
        body = (await _stored(engine))[-1].strip('"')  # the alert's details, JSON-quoted
        flipped = body[:-3] + ("A" if body[-3] != "A" else "B") + body[-2:]
        async with engine.begin() as connection:
            await connection.execute(
                text("UPDATE alerts SET details = :v").bindparams(bindparam("v", flipped, JSON()))
            )
        with pytest.raises(DataKeyError, match="fails its integrity check"):
            await _read_all(engine)
    finally:
        await engine.dispose()
    monkeypatch.setenv("MOODCHECK_CONFIG", str(config_path))
    _run_env(monkeypatch, db_url, TEST_KEYS)
    assert await asyncio.to_thread(main, ["run"]) == 2
    assert "changed or damaged after it was written" in _one_line(capsys)


async def test_migration_0014_encrypts_rows_written_before_it(db_url: str) -> None:
    await asyncio.to_thread(command.downgrade, alembic_config(db_url), "0011")
    engine = create_engine(db_url, keyring=TEST_KEYRING)
    try:
        try:
            async with engine.begin() as connection:
                for statement in SEED:
                    await connection.execute(text(statement))
                await connection.execute(
                    text(
                        "INSERT INTO patient_messages (id, patient_id, received_at, kind, body,"
                        f" crisis) VALUES (1, 1, {T}, 'text', 'the lighthouse keeper', false)"
                    )
                )
                await connection.execute(
                    text(
                        "INSERT INTO outbox (id, chat_id, method, payload, priority, status,"
                        f" attempts, next_attempt_at, created_at) VALUES (1, -100, 'sendMessage',"
                        f" '{{\"text\": \"the lighthouse keeper\"}}', 2, 'sent', 0, {T}, {T}),"
                        f" (2, -100, 'sendMessage', '{{}}', 2, 'sent', 0, {T}, {T})"
                    )
                )
            with pytest.raises(RuntimeError, match="MOODCHECK_DATA_KEYS"):
                await upgrade_async(db_url)  # rows to encrypt and no key: says so
        finally:
            # The database is shared with later tests (PostgreSQL).
            await upgrade_async(db_url, keyring=TEST_KEYRING)
        stored = await _stored(engine)
        assert "lighthouse" not in " ".join(stored)
        assert "{}" in stored  # a blanked payload stays blank (housekeeping finds it)
        bodies, payloads, _ = await _read_all(engine)
        assert bodies == ["the lighthouse keeper"]
        assert sorted(payloads, key=str) == [None, "the lighthouse keeper"]
    finally:
        await engine.dispose()


def test_db_upgrade_on_a_new_install_makes_a_private_key_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    database = tmp_path / "new.db"
    _run_env(monkeypatch, f"sqlite:///{database}", None)
    assert main(["db", "upgrade"]) == 0
    keys = tmp_path / "new.db.keys"
    assert stat.S_IMODE(keys.stat().st_mode) == 0o600
    [key] = parse_keys(keys.read_text())
    err = capsys.readouterr().err
    assert f"created the data key file {keys}" in err and "back it up" in err
    assert main(["db", "upgrade"]) == 0  # again: the file is used, not replaced
    assert parse_keys(keys.read_text()) == [key]

    assert main(["keys", "new"]) == 0  # a new key goes first; the old one stays
    assert parse_keys(keys.read_text())[1:] == [key]
    assert "then run `moodcheck keys rotate`" in capsys.readouterr().err

    before = keys.read_text()
    assert main(["keys", "new", "--print"]) == 0  # for MOODCHECK_DATA_KEYS: the file stays
    [printed] = parse_keys(capsys.readouterr().out)
    assert keys.read_text() == before and printed not in parse_keys(before)

    keys.chmod(0o644)
    assert main(["keys", "rotate"]) == 2
    assert "may be read by other users" in _one_line(capsys)
