"""Delivery through Telegram's failures: 429s, 5xx bursts, dropped connections, blocks;
and the due scan across time zones."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select

from bot.services.checkin.scanner import DueScan
from storage.models import Alert, Answer, AuditEvent, Checkin, OutboxMessage, Patient
from tests.e2e.conftest import GROUP_A
from tests.e2e.flows import enrol, last
from tests.support.harness import Harness


def _texts(user: object) -> list[str]:
    return [m.text for m in user.messages]  # type: ignore[attr-defined]


async def test_a_429_delays_delivery_and_loses_nothing(harness: Harness) -> None:
    h = harness
    user = h.server.user(3001, first_name="Rate")
    await enrol(h, user, "P-3001")
    h.server.faults.rate_limit_next(method="sendMessage", retry_after=5, chat_id=user.chat_id)
    before = len(user.messages)
    await h.send(user, "/checkin")
    assert len(user.messages) == before  # told to wait: nothing delivered yet
    row = await h.scalar(select(OutboxMessage).where(OutboxMessage.status == "pending"))
    assert row is not None and row.last_error == "429"
    await h.advance(timedelta(seconds=4))
    assert len(user.messages) == before
    await h.advance(timedelta(seconds=2))
    assert len(user.messages) == before + 1
    assert "1/7" in last(user).text
    assert await h.count(OutboxMessage, OutboxMessage.status != "sent") == 0


async def test_a_5xx_burst_and_dropped_connections_are_retried(harness: Harness) -> None:
    h = harness
    user = h.server.user(3002, first_name="Flaky")
    await enrol(h, user, "P-3002")
    h.server.faults.fail_next(method="sendMessage", status=502, times=2)
    h.server.faults.fail_next(method="sendMessage", status=500, times=1)
    h.server.faults.drop_next(method="sendMessage", times=1)
    await h.send(user, "/checkin")
    for _ in range(6):
        if any("1/7" in t for t in _texts(user)):
            break
        await h.advance(timedelta(minutes=1))
    assert sum("1/7" in t for t in _texts(user)) == 1
    row = await h.scalar(
        select(OutboxMessage).where(
            OutboxMessage.method == "sendMessage", OutboxMessage.patient_id.is_not(None)
        )
    )
    assert row is not None and row.status == "sent" and row.attempts == 4


async def test_a_403_marks_the_patient_unreachable(harness: Harness) -> None:
    h = harness
    user = h.server.user(3003, first_name="Gone")
    patient = await enrol(h, user, "P-3003")
    user.block_bot()
    await h.send(user, "/checkin")
    row = await h.scalar(select(Patient).where(Patient.id == patient.id))
    assert row is not None and row.status == "unreachable" and row.unreachable_since is not None
    failed = await h.rows(
        select(OutboxMessage.status).where(
            OutboxMessage.chat_id == user.chat_id, OutboxMessage.method == "sendMessage"
        )
    )
    assert "failed" in failed and "pending" not in failed
    sends = [
        r
        for r in h.server.requests
        if r.method == "sendMessage"
        and str(r.params.get("chat_id")) == str(user.chat_id)
        and r.status == 403
    ]
    assert len(sends) == 1  # no retrying a block
    assert "patient_unreachable" in [e.action for e in await h.rows(select(AuditEvent))]
    # The care team is told once, as an URGENT alert with the label only.
    group = [m.text for m in h.server.group(GROUP_A).messages]
    assert len(group) == 1 and "P-3003" in group[0] and "URGENT" in group[0]
    assert "Gone" not in group[0]
    alert = await h.scalar(select(Alert))
    assert alert is not None and (alert.rule, alert.tier) == ("patient_unreachable", "URGENT")
    # An unreachable patient is not prompted by the due scan.
    h.clock.set(datetime(2026, 1, 13, 14, 1, tzinfo=UTC))
    assert await h.due_scan() == 0
    # Until they unblock the bot and write again: then prompts resume at their usual time.
    user.unblock_bot()
    await h.send(user, "/checkin")
    row = await h.scalar(select(Patient).where(Patient.id == patient.id))
    assert row is not None and row.status == "active" and row.unreachable_since is None
    assert "1/7" in last(user).text
    assert row.next_prompt_at == datetime(2026, 1, 14, 14, 0, tzinfo=UTC)
    assert len(h.server.group(GROUP_A).messages) == 1  # still told only once


async def _blocked_then_back(h: Harness, user_id: int, label: str) -> tuple[object, int, int]:
    """Enrol, ask today's question, block the bot (so the next answer marks the patient
    unreachable), unblock: return the user, the patient id and the question's message id."""
    user = h.server.user(user_id, first_name="Back")
    patient = await enrol(h, user, label)
    await h.send(user, "/checkin")
    question = last(user)
    assert "1/7" in question.text
    user.block_bot()
    await h.send(user, "/checkin")
    row = await h.scalar(select(Patient).where(Patient.id == patient.id))
    assert row is not None and row.status == "unreachable"
    user.unblock_bot()
    return user, patient.id, question.message_id


async def test_a_tap_brings_an_unreachable_patient_back(harness: Harness) -> None:
    # Taps skip the reachability handler (the tap's own transaction has the patient): the
    # tap must still bring the patient back, and its answer must count.
    h = harness
    user, patient_id, question = await _blocked_then_back(h, 3006, "P-3006")
    await h.press(user, "7", message_id=question)
    row = await h.scalar(select(Patient).where(Patient.id == patient_id))
    assert row is not None and row.status == "active" and row.unreachable_since is None
    assert "patient_reachable_again" in [e.action for e in await h.rows(select(AuditEvent))]
    assert await h.rows(select(Answer.item_id, Answer.value)) == [("mood", "7")]


async def test_a_refused_tap_still_brings_an_unreachable_patient_back(harness: Harness) -> None:
    h = harness
    other = h.server.user(3008, first_name="Other")
    await enrol(h, other, "P-3008")
    await h.send(other, "/checkin")
    theirs = await h.scalar(select(Checkin.id))
    user, patient_id, question = await _blocked_then_back(h, 3007, "P-3007")
    # A button of someone else's check-in (forged data): refused, nothing stored ...
    await h.press_data(user, question, f"a|{theirs}|mood|7")
    assert await h.count(Answer) == 0
    # ... but the patient wrote to the bot, so they are back.
    row = await h.scalar(select(Patient).where(Patient.id == patient_id))
    assert row is not None and row.status == "active"


async def test_the_due_scan_prompts_each_time_zone_once_at_local_time(harness: Harness) -> None:
    h = harness
    ny = h.server.user(3004, first_name="NewYork")
    ldn = h.server.user(3005, first_name="London")
    await enrol(h, ny, "P-NY01", cohort="clinic-a")  # 09:00 America/New_York
    await enrol(h, ldn, "P-LD01", cohort="clinic-b")  # 20:30 Europe/London

    def prompts(user: object) -> int:
        return sum("1/7" in t for t in _texts(user))

    # 2026-01-13 08:59 in New York: nobody is due yet.
    h.clock.set(datetime(2026, 1, 13, 13, 59, tzinfo=UTC))
    assert await h.due_scan() == 0
    # 09:00 New York (14:00 UTC): only the New York patient.
    h.clock.set(datetime(2026, 1, 13, 14, 0, 30, tzinfo=UTC))
    assert await h.due_scan() == 1
    assert await h.due_scan() == 0
    assert (prompts(ny), prompts(ldn)) == (1, 0)
    # 20:30 London (20:30 UTC in January): only the London patient, once.
    h.clock.set(datetime(2026, 1, 13, 20, 30, 10, tzinfo=UTC))
    assert await h.due_scan() == 1
    assert await h.due_scan() == 0
    assert (prompts(ny), prompts(ldn)) == (1, 1)
    # The clock jumped past both patients' first prompt time (on the 12th, the day they
    # enrolled): that day is recorded as missed, not prompted late and not as zeros.
    days = await h.rows(select(Checkin.local_date, Checkin.status, Checkin.patient_id))
    assert sorted((d.isoformat(), status) for d, status, _ in days) == [
        ("2026-01-12", "missed"),
        ("2026-01-12", "missed"),
        ("2026-01-13", "open"),
        ("2026-01-13", "open"),
    ]
    # Both are next due tomorrow at their own local time.
    due = dict(await h.rows(select(Patient.label, Patient.next_prompt_at)))
    assert due["P-NY01"] == datetime(2026, 1, 14, 14, 0, tzinfo=UTC)
    assert due["P-LD01"] == datetime(2026, 1, 14, 20, 30, tzinfo=UTC)


async def test_a_writer_waiting_during_a_scan_gets_in_between_its_batches(
    harness: Harness,
) -> None:
    """Each batch is a transaction of its own: a tap that waits for the writer waits for one
    batch, not for the whole scan."""
    h = harness
    for n in range(5):
        await enrol(h, h.server.user(3100 + n, first_name=f"Busy{n}"), f"P-31{n:02d}")
    h.clock.set(datetime(2026, 1, 13, 14, 0, 30, tzinfo=UTC))  # all five due (09:00 New York)
    runtime = h.runtime.services.runtime
    seen: list[int] = []

    async def tap() -> None:
        async with runtime.uow() as uow:
            opened = select(func.count()).where(Checkin.status == "open")
            seen.append(await uow.session.scalar(opened) or 0)
            await uow.commit()

    # Someone holds the writer while the scan, then the tap, queue for it.
    async with runtime.uow():
        scan = asyncio.create_task(DueScan(runtime, batch_size=2).run())
        await asyncio.sleep(0)
        tapping = asyncio.create_task(tap())
        await asyncio.sleep(0)
    await tapping
    assert await scan == 5
    await h.settle()
    if h.db_url.startswith("sqlite"):
        assert seen == [2]  # after the first batch of two, before the second
    else:
        assert len(seen) == 1  # PostgreSQL has no writer to wait for: only row locks
    assert await h.count(Checkin, Checkin.status == "open") == 5


async def test_checkin_started_early_is_not_prompted_again(harness: Harness) -> None:
    h = harness
    user = h.server.user(3006, first_name="Early")
    await enrol(h, user, "P-3006")
    h.clock.set(datetime(2026, 1, 13, 12, 0, tzinfo=UTC))  # 07:00 in New York
    await h.send(user, "/checkin")
    h.clock.set(datetime(2026, 1, 13, 14, 0, 5, tzinfo=UTC))
    assert await h.due_scan() == 0
    assert sum("1/7" in m.text for m in user.messages) == 1
