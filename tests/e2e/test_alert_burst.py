"""A burst of 100 alert events in one provider group: coalesced within Telegram's 20 messages
a minute, IMMEDIATE first, nothing dropped, each event still acknowledged on its own.

The sandbox server counts the group's 20 per 60 s on the test's ManualClock, so the minutes
pass by moving the clock, never by sleeping. The bot's own rate limiter is given no group
limit here: what keeps the group under 20 is the announcer's budget, and the sandbox would
answer 429 to anything over (the test checks it never had to).
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from bot.config import AppConfig, load_config
from bot.domain.alerts import Tier
from bot.domain.clock import ManualClock
from bot.sandbox.limits import Limits as SandboxLimits
from bot.sandbox.server import FakeBotApi
from bot.sandbox.state import BotMessage
from bot.services.alerts.alerting import Raise
from bot.transport.ratelimit import Limits
from storage.models import Alert, OutboxMessage, Patient
from tests.e2e.conftest import GROUP_A
from tests.e2e.flows import FOLLOW_UPS, message
from tests.support.harness import Harness

CONFIG = """
[[cohort]]
name = "clinic-a"
provider_chat_id = -100111
timezone = "America/New_York"
region = "US"
coverage = { days = ["mon", "tue", "wed", "thu", "fri"], start = "09:00", end = "17:00" }
"""

URGENT, IMMEDIATE = 70, 30
FIRST_USER = 7000
# Tuesday 2026-01-13, 10:00 in New York: inside coverage hours.
IN_HOURS = datetime(2026, 1, 13, 15, 0, tzinfo=UTC)
LABEL = re.compile(r"P-B\d{3}")


@pytest.fixture(name="config")
def fx_config(tmp_path: Path) -> AppConfig:
    path = tmp_path / "moodcheck.toml"
    path.write_text(CONFIG, encoding="utf-8")
    return load_config(path)


@pytest.fixture(name="server")
async def fx_server(clock: ManualClock) -> AsyncIterator[FakeBotApi]:
    server = FakeBotApi(
        bot_username="moodcheck_test_bot",
        # 100 patients enrol "at the same instant" of the frozen clock: only the group's
        # limit is under test.
        limits=SandboxLimits(global_per_second=100_000, private=(100, 1.0)),
        clock=lambda: clock.now().timestamp(),
    )
    await server.start()
    yield server
    await server.stop()
    assert server.violations == [], server.violations
    assert server.unanswered_callbacks() == [], server.unanswered_callbacks()


@pytest.fixture(name="harness")
async def fx_harness(
    server: FakeBotApi, db_url: str, config: AppConfig, clock: ManualClock
) -> AsyncIterator[Harness]:
    limits = Limits(overall=(1000, 1.0), group=(1000, 60.0), private=(100, 1.0))
    harness = Harness(server, db_url, config, clock, limits=limits)
    server.group(GROUP_A, title="Clinic A providers")
    await harness.start_bot()
    yield harness
    await harness.close()


async def _enrol_all(h: Harness, count: int) -> list[Patient]:
    """Enrol patients through the bot, all at once (each /start, then each I agree)."""
    enrolment = h.runtime.services.enrolment
    users = [h.server.user(FIRST_USER + i, first_name="Pat") for i in range(count)]
    for i, user in enumerate(users):
        link = await enrolment.create_invite("clinic-a", f"P-B{i:03d}", "test")
        h.track(await user.send_text(f"/start {link.code}"))
    await h.settle(timeout=120)
    for user in users:
        h.track(await user.press("I agree"))
    await h.settle(timeout=120)
    patients = await h.rows(select(Patient).order_by(Patient.label))
    assert len(patients) == count
    return patients


async def _raise_all(h: Harness, patients: list[Patient]) -> None:
    """Every patient's event at the same instant, each in its own transaction (as taps are):
    the URGENT ones first, so the IMMEDIATE ones arrive when the group is already busy."""
    services = h.runtime.services
    now = h.clock.now()
    for n, patient in enumerate(patients):
        rule, tier = (
            ("took_more_than_prescribed", Tier.URGENT)
            if n < URGENT
            else ("safety_unsafe_now", Tier.IMMEDIATE)
        )
        async with services.runtime.uow() as uow:
            cohort = await uow.cohorts.get(patient.cohort_id)
            row = await uow.patients.get(patient.id)
            assert cohort is not None and row is not None
            await services.alerting.raise_(uow, now, cohort, row, [Raise(rule, tier, f"b:{n}")])
            await uow.commit()
    h.runtime.worker.wake()
    await h.settle()


async def _flush(h: Harness) -> int:
    posted = await h.runtime.services.announcer.flush_all()
    await h.settle()
    return posted


def _sends(h: Harness) -> list[BotMessage]:
    return [m for m in h.server.group(GROUP_A).messages if isinstance(m, BotMessage)]


async def _group_has(h: Harness, count: int) -> list[BotMessage]:
    """The group's messages once ``count`` have arrived (the outbox may still be sending)."""
    await h.server.wait_for(lambda: len(_sends(h)) >= count, timeout=15.0)
    return _sends(h)


def _labels(text: str) -> list[str]:
    return LABEL.findall(text)


async def test_a_burst_of_100_alerts_is_coalesced_under_20_a_minute(harness: Harness) -> None:
    h = harness
    h.clock.set(IN_HOURS - timedelta(hours=1))
    patients = await _enrol_all(h, URGENT + IMMEDIATE)
    immediate = {p.label for p in patients[URGENT:]}
    h.clock.set(IN_HOURS)
    await _raise_all(h, patients)

    # The group was calm: the first URGENT events went out alone, as fast as ever, until
    # URGENT had used its part of the minute (16, less 4 kept for IMMEDIATE).
    singles = await _group_has(h, 12)
    assert len(singles) == 12
    assert [_labels(m.text) for m in singles] == [[f"P-B{i:03d}"] for i in range(12)]
    assert all(m.labels == ["Acknowledge", "Resolve"] for m in singles)
    assert all("Review by 2026-01-13 14:00 EST" in m.text for m in singles)

    # The periodic flush, seconds later: the 30 IMMEDIATE events in the reserved places,
    # ten to a message, before any URGENT event that was waiting.
    assert await _flush(h) == IMMEDIATE
    shared = (await _group_has(h, 15))[12:]
    assert [len(_labels(m.text)) for m in shared] == [10, 10, 10]
    assert {label for m in shared for label in _labels(m.text)} == immediate
    assert all(m.text.startswith("📣 10 alerts") for m in shared)
    assert await _flush(h) == 0  # nothing fits before the minute has passed

    # Each following minute: the rest, packed, until nothing waits.
    for _ in range(5):
        if await h.count(Alert, Alert.group_message_id.is_(None)) == 0:
            break
        await h.advance(timedelta(seconds=61))
        await _flush(h)
    assert await h.count(Alert, Alert.group_message_id.is_(None)) == 0
    assert await h.count(Alert, Alert.group_message_id <= 0) == 0  # all sent

    sends = await _group_has(h, 12 + 3 + 6)
    posted = [label for m in sends for label in _labels(m.text)]
    assert sorted(posted) == sorted(p.label for p in patients)  # every one, once
    assert len(sends) == 12 + 3 + 6
    for m in sends:  # in a shared message IMMEDIATE events come first
        tiers = re.findall(r"(IMMEDIATE|URGENT)", m.text)
        assert tiers == sorted(tiers, key=lambda t: t != "IMMEDIATE"), m.text
        assert len(m.text) <= 4096
    later = [m for m in sends if m.sent_at > h.server.group(GROUP_A).messages[0].sent_at]
    assert later and not any(set(_labels(m.text)) & immediate for m in later)

    await _acknowledge_one_on_a_shared_message(h, shared[0])
    _assert_never_over_20_a_minute(h)
    assert [r for r in h.server.requests if r.status == 429] == []
    assert await h.count(OutboxMessage, OutboxMessage.last_error.is_not(None)) == 0


async def _acknowledge_one_on_a_shared_message(h: Harness, shared: BotMessage) -> None:
    group = h.server.group(GROUP_A)
    labels = _labels(shared.text)
    target = labels[1]
    first = [f"Ack {labels[0]}", f"Resolve {labels[0]}", f"Ack {target}", f"Resolve {target}"]
    assert shared.labels[:4] == first
    nora = group.member(2001, first_name="Nora")
    await h.press(nora, f"Ack {target}", message_id=shared.message_id)
    assert group.callback_answers[-1].text == "Acknowledged. The group message shows it."
    await h.server.wait_for(lambda: message(group, shared.message_id).edits, timeout=15.0)
    edited = message(group, shared.message_id)
    blocks = edited.text.split("\n\n")[1:]  # the header, then one block per event
    assert [_labels(b) for b in blocks] == [[label] for label in labels]
    assert ["Acknowledged by Nora" in b for b in blocks] == [label == target for label in labels]
    expected = []
    for label in labels:
        expected += (
            # Acknowledged: Resolve and the follow-up checklist (tests/e2e/test_follow_ups.py).
            [f"Resolve {label}", *(f"{label}: {name}" for name in FOLLOW_UPS)]
            if label == target
            else [f"Ack {label}", f"Resolve {label}"]
        )
    assert edited.labels == expected
    acknowledged = await h.rows(select(Alert).where(Alert.acknowledged_at.is_not(None)))
    assert len(acknowledged) == 1
    patient = await h.scalar(select(Patient).where(Patient.id == acknowledged[0].patient_id))
    assert patient is not None and patient.label == target
    assert acknowledged[0].acknowledged_by_name == "Nora"


def _assert_never_over_20_a_minute(h: Harness) -> None:
    """Every message and edit the group received, in any 60 s (both ends counted)."""
    times = sorted(
        e.time
        for e in h.server.transcript(GROUP_A)
        if e.kind in {"bot_message", "bot_edit", "bot_delete"}
    )
    assert times
    busiest = max(sum(1 for t in times if start <= t <= start + 60.0) for start in times)
    assert busiest <= 20, busiest
