"""The audit trail's hash chain on real databases (SQLite and PostgreSQL): a record changed,
inserted or deleted in the database is found and named; erasure and pruning keep the chain
verifiable; concurrent writers (several engines, as several workers) still make one chain;
``moodcheck audit verify`` prints the first broken link and exits 1."""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import delete, func, select, text, update

from bot.config import AppConfig
from bot.domain.audit_chain import ERASED_ACTION, PRUNED_ACTION
from bot.domain.clock import ManualClock
from bot.ops.cli import main
from bot.services.provider.audit_trail import AuditTrail, ChainState
from bot.services.runtime import Runtime
from storage.db import create_engine, create_session_factory
from storage.models import AuditChain, AuditEvent, Patient
from storage.uow import UnitOfWorkFactory
from tests.support.harness import shared_renderer
from tests.support.keys import TEST_KEYS

NOW = datetime(2026, 1, 12, 13, 0, tzinfo=UTC)


@pytest.fixture(name="uow")
async def fx_uow(db_url: str) -> AsyncIterator[UnitOfWorkFactory]:
    engine = create_engine(db_url)
    yield UnitOfWorkFactory(create_session_factory(engine))
    await engine.dispose()


def _trail(uow: UnitOfWorkFactory, config: AppConfig, now: datetime = NOW) -> AuditTrail:
    return AuditTrail(
        Runtime(uow=uow, clock=ManualClock(now), config=config, renderer=shared_renderer())
    )


async def _cohort(uow: UnitOfWorkFactory, name: str = "clinic-a") -> int:
    async with uow() as u:
        cohort = await u.cohorts.upsert(
            {
                "name": name,
                "provider_chat_id": -100111 if name == "clinic-a" else -100222,
                "timezone": "UTC",
                "locale": "en",
                "region": "US",
                "questionnaire": "daily",
            },
            NOW,
        )
        await u.commit()
        return cohort.id


async def _patient(uow: UnitOfWorkFactory, cohort_id: int) -> int:
    async with uow() as u:
        patient = Patient(
            cohort_id=cohort_id,
            label="P-AUD1",
            telegram_user_id=7001,
            chat_id=7001,
            status="active",
            locale="en",
            timezone="UTC",
            checkin_time="09:00",
            consented_at=NOW,
            created_at=NOW,
            updated_at=NOW,
        )
        u.patients.add(patient)
        await u.session.flush()
        await u.commit()
        return patient.id


async def _write(
    uow: UnitOfWorkFactory,
    cohort_id: int | None,
    count: int,
    *,
    patient_id: int | None = None,
    start: datetime = NOW,
) -> None:
    for i in range(count):
        async with uow() as u:
            u.audit.record(
                at=start + timedelta(minutes=i),
                actor="provider:9001",
                action="provider_viewed_patient",
                cohort_id=cohort_id,
                patient_id=patient_id,
                details={"chat_id": -100111, "label": "P-AUD1", "n": i},
            )
            await u.commit()


def _only_broken(states: list[ChainState]) -> ChainState:
    [broken] = [s for s in states if s.broken is not None]
    return broken


async def _seq_id(uow: UnitOfWorkFactory, chain: int, seq: int) -> int:
    async with uow.reading() as u:
        found = await u.session.scalar(
            select(AuditEvent.id).where(AuditEvent.chain == chain, AuditEvent.seq == seq)
        )
    assert found is not None
    return found


async def _change(uow: UnitOfWorkFactory, statement: object) -> None:
    async with uow() as u:
        await u.session.execute(statement)  # type: ignore[call-overload]
        await u.session.commit()


async def test_a_clean_trail_verifies_and_each_cohort_has_its_chain(
    uow: UnitOfWorkFactory, config: AppConfig
) -> None:
    a, b = await _cohort(uow), await _cohort(uow, "clinic-b")
    await _write(uow, a, 5)
    await _write(uow, b, 3)
    await _write(uow, None, 2)
    states = await _trail(uow, config).verify()
    assert [(s.chain, s.checked, s.head_seq, s.broken) for s in states] == [
        (0, 2, 2, None),
        (a, 5, 5, None),
        (b, 3, 3, None),
    ]
    async with uow.reading() as u:
        rows = (
            await u.session.scalars(
                select(AuditEvent).where(AuditEvent.chain == a).order_by(AuditEvent.seq)
            )
        ).all()
    assert [r.seq for r in rows] == [1, 2, 3, 4, 5]
    assert all(r.prev_hash == p.hash for p, r in itertools.pairwise(rows))


@pytest.mark.parametrize(
    ("column", "value", "problem"),
    [
        ("details", {"chat_id": -100111, "label": "P-OTHER", "n": 2}, "details or patient"),
        ("at", NOW - timedelta(days=1), "hash does not match"),
        ("actor", "provider:6666", "hash does not match"),
        ("action", "provider_listed_alerts", "hash does not match"),
        ("hash", "f" * 64, "hash does not match"),
    ],
)
async def test_a_changed_record_is_named(
    uow: UnitOfWorkFactory, config: AppConfig, column: str, value: object, problem: str
) -> None:
    a = await _cohort(uow)
    await _write(uow, a, 5)
    target = await _seq_id(uow, a, 3)
    await _change(uow, update(AuditEvent).where(AuditEvent.id == target).values({column: value}))
    broken = _only_broken(await _trail(uow, config).verify())
    assert broken.broken is not None
    assert (broken.broken.seq, broken.broken.record_id) == (3, target)
    assert problem in broken.broken.problem


async def test_deleted_and_inserted_records_are_found(
    uow: UnitOfWorkFactory, config: AppConfig
) -> None:
    a = await _cohort(uow)
    await _write(uow, a, 6)
    trail = _trail(uow, config)
    # A record deleted in the middle: the next one names the gap.
    await _change(uow, delete(AuditEvent).where(AuditEvent.chain == a, AuditEvent.seq == 3))
    broken = _only_broken(await trail.verify()).broken
    assert broken is not None and broken.seq == 4 and "records 3-3 are missing" in broken.problem


async def test_a_record_deleted_at_the_end_is_found(
    uow: UnitOfWorkFactory, config: AppConfig
) -> None:
    a = await _cohort(uow)
    await _write(uow, a, 4)
    await _change(uow, delete(AuditEvent).where(AuditEvent.chain == a, AuditEvent.seq == 4))
    broken = _only_broken(await _trail(uow, config).verify()).broken
    assert broken is not None and "records 4-4 are missing (deleted at the end)" in broken.problem


async def test_an_inserted_record_is_found(uow: UnitOfWorkFactory, config: AppConfig) -> None:
    a = await _cohort(uow)
    await _write(uow, a, 3)
    # Written straight into the table, without a place in the chain.
    async with uow() as u:
        u.session.add(
            AuditEvent(at=NOW, actor="operator", action="provider_viewed_patient",
                       cohort_id=a, chain=a, details={})
        )  # fmt: skip
        await u.session.commit()
    broken = _only_broken(await _trail(uow, config).verify()).broken
    assert broken is not None and "not in the chain" in broken.problem
    # Given a place of its own (the next one, with a made-up hash): found there too.
    async with uow() as u:
        await u.session.execute(
            update(AuditEvent)
            .where(AuditEvent.seq.is_(None))
            .values(seq=4, salt="0" * 32, subject="0" * 64, prev_hash="0" * 64, hash="0" * 64)
        )
        await u.session.execute(update(AuditChain).where(AuditChain.chain == a).values(seq=4))
        await u.session.commit()
    broken = _only_broken(await _trail(uow, config).verify()).broken
    assert broken is not None and broken.seq == 4
    assert "previous hash does not match" in broken.problem


async def test_erasure_keeps_the_chain_whole_and_leaves_nothing_to_guess(
    uow: UnitOfWorkFactory, config: AppConfig
) -> None:
    a = await _cohort(uow)
    patient = await _patient(uow, a)
    await _write(uow, a, 2)
    await _write(uow, a, 3, patient_id=patient)
    await _write(uow, a, 1)
    async with uow() as u:
        assert await u.audit.scrub_patient(patient, NOW + timedelta(hours=1)) == 3
        await u.commit()
    states = await _trail(uow, config).verify()
    assert [s.broken for s in states] == [None]
    async with uow.reading() as u:
        scrubbed = (
            await u.session.scalars(select(AuditEvent).where(AuditEvent.seq.in_([3, 4, 5])))
        ).all()
        erased = await u.session.scalar(
            select(AuditEvent).where(AuditEvent.action == ERASED_ACTION)
        )
    assert {(e.patient_id, e.salt, str(e.details)) for e in scrubbed} == {
        (None, None, "{'erased': True}")
    }
    assert erased is not None and erased.details == {"seqs": [3, 4, 5]}
    # Tombstoning a record by hand, without an erasure record, is found.
    target = await _seq_id(uow, a, 6)
    await _change(
        uow,
        update(AuditEvent)
        .where(AuditEvent.id == target)
        .values(salt=None, details={"erased": True}),
    )
    broken = _only_broken(await _trail(uow, config).verify()).broken
    assert broken is not None and broken.seq == 6
    assert "without an erasure record" in broken.problem


async def test_pruning_keeps_an_anchor_and_the_chain_verifies(
    uow: UnitOfWorkFactory, config: AppConfig
) -> None:
    a = await _cohort(uow)
    days = config.cohort("clinic-a").audit_retention_days
    old = NOW - timedelta(days=days + 10)
    await _write(uow, a, 4, start=old)
    await _write(uow, a, 3)
    trail = _trail(uow, config, NOW + timedelta(hours=1))
    assert await trail.prune() == 4
    states = await trail.verify()
    assert [(s.chain, s.anchor_seq, s.checked, s.broken) for s in states] == [(a, 4, 4, None)]
    async with uow.reading() as u:
        pruned = await u.session.scalar(
            select(AuditEvent).where(AuditEvent.action == PRUNED_ACTION)
        )
        head = await u.session.get(AuditChain, a)
    assert pruned is not None and head is not None
    assert pruned.details == {"through": 4, "anchor": head.anchor_hash}
    assert await trail.prune() == 0  # nothing more is old enough
    # Deleting the oldest remaining record (as a pruner would, but without an anchor).
    await _change(uow, delete(AuditEvent).where(AuditEvent.chain == a, AuditEvent.seq == 5))
    broken = _only_broken(await trail.verify()).broken
    assert broken is not None and broken.seq == 6 and "after the prune anchor" in broken.problem


async def test_concurrent_writers_on_several_engines_make_one_chain(
    db_url: str, uow: UnitOfWorkFactory, config: AppConfig
) -> None:
    """Like several worker processes: each engine has its own connections, every writer
    audits in two cohorts' chains at once (in opposite orders), and nothing deadlocks."""
    a, b = await _cohort(uow), await _cohort(uow, "clinic-b")
    engines = [create_engine(db_url) for _ in range(3)]
    factories = [UnitOfWorkFactory(create_session_factory(e)) for e in engines]

    async def writer(i: int) -> None:
        factory = factories[i % len(factories)]
        async with factory() as u:
            for cohort in (a, b) if i % 2 else (b, a):
                u.audit.record(at=NOW, actor=f"provider:{i}", action="x", cohort_id=cohort)
            await asyncio.sleep(0)
            await u.commit()

    try:
        await asyncio.gather(*(writer(i) for i in range(30)))
    finally:
        for engine in engines:
            await engine.dispose()
    states = await _trail(uow, config).verify()
    assert [(s.chain, s.head_seq, s.checked, s.broken) for s in states] == [
        (a, 30, 30, None),
        (b, 30, 30, None),
    ]
    async with uow.reading() as u:
        count = await u.session.scalar(select(func.count()).select_from(AuditEvent))
    assert count == 60


def test_cli_verify_prints_the_first_broken_link(
    db_url: str,
    config_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("MOODCHECK_CONFIG", str(config_path))
    monkeypatch.setenv("MOODCHECK_DATABASE_URL", db_url)
    monkeypatch.setenv("MOODCHECK_DATA_KEYS", TEST_KEYS)  # the bot starts only with its keys

    async def setup(tamper: bool) -> int:
        engine = create_engine(db_url)
        uow = UnitOfWorkFactory(create_session_factory(engine))
        try:
            if not tamper:
                a = await _cohort(uow)
                await _write(uow, a, 3)
                return a
            target = await _seq_id(uow, 1, 2)
            async with uow() as u:
                await u.session.execute(
                    text("UPDATE audit_events SET actor = 'someone' WHERE id = :id"),
                    {"id": target},
                )
                await u.session.commit()
            return target
        finally:
            await engine.dispose()

    chain = asyncio.run(setup(tamper=False))
    assert chain == 1
    assert main(["audit", "verify"]) == 0
    out = capsys.readouterr().out
    assert "chain 1: ok, 3 records checked" in out and "audit trail verified" in out
    target = asyncio.run(setup(tamper=True))
    assert main(["audit", "verify"]) == 1
    captured = capsys.readouterr()
    assert "chain 1: BROKEN" in captured.out
    assert f"first broken link: chain 1, seq 2 (audit_events.id {target}): hash" in captured.err
