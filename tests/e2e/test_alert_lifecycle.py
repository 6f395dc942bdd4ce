"""Alerts in the provider group: Acknowledge and Resolve, re-raising (coalesced per cohort),
coverage hours, and when an URGENT event will be reviewed."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from bot.config import AppConfig, load_config
from bot.sandbox.users import SimUser
from storage.models import Alert, AuditEvent, OutboxMessage, Patient
from tests.e2e.conftest import GROUP_A, GROUP_B
from tests.e2e.flows import (
    FOLLOW_UPS,
    TO_SIDE_EFFECTS,
    answer_all,
    answer_day,
    enrol,
    last,
    message,
)
from tests.support.harness import Harness

CONFIG = """
[[cohort]]
name = "clinic-a"
provider_chat_id = -100111
timezone = "America/New_York"
region = "US"
on_call = ["@dr_oncall"]
reraise_minutes = [15, 30]
coverage = { days = ["mon", "tue", "wed", "thu", "fri"], start = "09:00", end = "17:00" }

[[cohort]]
name = "clinic-b"
provider_chat_id = -100222
coverage = "24/7"
timezone = "Europe/London"
region = "UK"
"""

REFUSED = "This button is not valid for you."
RED_FLAG = "Chest pain, trouble breathing, fainting, seizure or sudden severe headache"
# Tuesday 2026-01-13, 10:00 in New York: inside clinic-a's coverage hours.
IN_HOURS = datetime(2026, 1, 13, 15, 0, tzinfo=UTC)
# The same Tuesday, 18:00 in New York: after hours.
AFTER_HOURS = datetime(2026, 1, 13, 23, 0, tzinfo=UTC)


@pytest.fixture(name="config")
def fx_config(tmp_path: Path) -> AppConfig:
    path = tmp_path / "moodcheck.toml"
    path.write_text(CONFIG, encoding="utf-8")
    return load_config(path)


async def _patient(h: Harness, user_id: int, label: str) -> SimUser:
    user = h.server.user(user_id, first_name="Pat")
    await enrol(h, user, label)
    return user


async def _red_flag(h: Harness, user: SimUser) -> int:
    """An IMMEDIATE alert (medical red flag); return its group message id."""
    await h.send(user, "/checkin")
    await answer_day(h, user, TO_SIDE_EFFECTS, until="side_effects")
    await h.press(user, RED_FLAG)
    await h.press(user, "Done")
    return last(h.server.group(GROUP_A)).message_id


async def _took_more(h: Harness, user: SimUser) -> int:
    """An URGENT alert (took more than prescribed); return its group message id."""
    await h.send(user, "/checkin")
    await answer_all(
        h,
        user,
        {
            **TO_SIDE_EFFECTS,
            "dose": "Took more than prescribed",
            "side_effects": "None",
            "safety": "No",
        },
    )
    return last(h.server.group(GROUP_A)).message_id


async def _scan(h: Harness) -> int:
    queued = await h.runtime.services.alert_scan.run()
    await h.settle()
    return queued


async def _audit(h: Harness, action: str) -> list[AuditEvent]:
    return await h.rows(select(AuditEvent).where(AuditEvent.action == action))


async def test_acknowledge_then_resolve_edits_the_message_once(harness: Harness) -> None:
    h = harness
    user = await _patient(h, 6001, "P-6001")
    h.clock.set(IN_HOURS)
    group = h.server.group(GROUP_A)
    mid = await _red_flag(h, user)
    posted = message(group, mid)
    assert "IMMEDIATE" in posted.text and "P-6001" in posted.text
    assert posted.labels == ["Acknowledge", "Resolve"]
    assert "coverage" not in posted.text
    alert = await h.scalar(select(Alert))
    assert alert is not None and alert.group_message_id == mid and not alert.after_hours
    assert "has been notified" in last(user).text  # in hours: the card says so
    nora = group.member(2001, first_name="Nora")
    sam = group.member(2002, first_name="Sam")

    h.clock.set(IN_HOURS + timedelta(minutes=4))
    await h.press(nora, "Acknowledge", message_id=mid)
    assert group.callback_answers[-1].text == "Acknowledged. The group message shows it."
    edited = message(group, mid)
    assert "Acknowledged by Nora · 2026-01-13 10:04" in edited.text
    # Acknowledged: Resolve, and the cohort's follow-up checklist (test_follow_ups.py).
    assert edited.labels == ["Resolve", *FOLLOW_UPS]
    alert = await h.scalar(select(Alert))
    assert alert is not None
    assert (alert.status, alert.acknowledged_by, alert.resolved_at) == ("acknowledged", 2001, None)
    assert alert.next_reraise_at is None
    assert len(await _audit(h, "alert_acknowledged")) == 1

    # Again: nothing changes (no audit row, no edit).
    edits = len(message(group, mid).edits)
    await h.press_data(nora, mid, f"g|{alert.id}|ack")
    assert group.callback_answers[-1].text == "Already done: nothing changed."
    assert len(await _audit(h, "alert_acknowledged")) == 1
    assert len(message(group, mid).edits) == edits

    h.clock.set(IN_HOURS + timedelta(minutes=9))
    await h.press(sam, "Resolve", message_id=mid)
    edited = message(group, mid)
    assert "Resolved by Sam · 2026-01-13 10:09" in edited.text and edited.buttons == []
    alert = await h.scalar(select(Alert))
    assert alert is not None
    assert (alert.status, alert.acknowledged_by, alert.resolved_by) == ("resolved", 2001, 2002)
    await h.press_data(sam, mid, f"g|{alert.id}|res")
    assert len(await _audit(h, "alert_resolved")) == 1
    [event] = await _audit(h, "alert_resolved")
    assert event.actor == "provider:2002" and event.details["alert_ids"] == [alert.id]
    assert "Nora" not in str(event.details) and "Sam" not in str(event.details)


async def test_resolve_implies_acknowledge(harness: Harness) -> None:
    h = harness
    user = await _patient(h, 6002, "P-6002")
    h.clock.set(IN_HOURS)
    mid = await _red_flag(h, user)
    group = h.server.group(GROUP_A)
    await h.press(group.member(2001, first_name="Nora"), "Resolve", message_id=mid)
    alert = await h.scalar(select(Alert))
    assert alert is not None and alert.acknowledged_by == 2001 and alert.resolved_by == 2001
    assert "Resolved by Nora" in message(group, mid).text


async def test_presses_elsewhere_or_forged_are_refused(harness: Harness) -> None:
    h = harness
    user = await _patient(h, 6003, "P-6003")
    h.clock.set(IN_HOURS)
    mid = await _red_flag(h, user)
    alert = await h.scalar(select(Alert))
    assert alert is not None
    group_a, group_b = h.server.group(GROUP_A), h.server.group(GROUP_B)
    stranger = group_b.member(3001, first_name="Other")
    await h.press_data(stranger, mid, f"g|{alert.id}|ack")  # another cohort's group
    assert group_b.callback_answers[-1].text == REFUSED
    nora = group_a.member(2001, first_name="Nora")
    await h.press_data(nora, mid, f"g|{alert.id + 999}|ack")  # an id never issued
    await h.press_data(nora, mid + 50, f"g|{alert.id}|res")  # data moved to another message
    await h.press_data(nora, mid, "g|abc|ack")  # not even well formed
    assert all(a.text == REFUSED for a in group_a.callback_answers[-3:])
    alert = await h.scalar(select(Alert))
    assert alert is not None and alert.acknowledged_at is None and alert.resolved_at is None
    assert await h.count(AuditEvent, AuditEvent.action.like("alert_%ed")) == 1  # raised only
    assert message(group_a, mid).edits == []


async def test_immediate_is_raised_again_at_15_and_30_minutes(harness: Harness) -> None:
    h = harness
    user = await _patient(h, 6004, "P-6004")
    h.clock.set(IN_HOURS)
    group = h.server.group(GROUP_A)
    mid = await _red_flag(h, user)
    h.clock.set(IN_HOURS + timedelta(minutes=14, seconds=59))
    assert await _scan(h) == 0
    h.clock.set(IN_HOURS + timedelta(minutes=15))
    assert await _scan(h) == 1
    first = last(group)
    assert first.message_id != mid
    assert "still not acknowledged" in first.text and "15 min" in first.text
    assert "P-6004" in first.text and "@dr_oncall" not in first.text
    assert first.labels == ["Acknowledge", "Resolve"]
    row = await h.scalar(
        select(OutboxMessage).where(
            OutboxMessage.chat_id == GROUP_A,
            OutboxMessage.telegram_message_id == first.message_id,
        )
    )
    # A re-raise answers the original (in the Bot API's form, checked against the spec).
    assert row is not None
    assert row.payload["reply_parameters"] == {
        "message_id": mid,
        "allow_sending_without_reply": True,
    }
    assert await _scan(h) == 0
    h.clock.set(IN_HOURS + timedelta(minutes=30))
    assert await _scan(h) == 1
    second = last(group)
    assert "30 min" in second.text and "@dr_oncall" in second.text
    h.clock.set(IN_HOURS + timedelta(hours=3))
    assert await _scan(h) == 0  # two steps, then the on-call has it
    alert = await h.scalar(select(Alert))
    assert alert is not None and alert.reraised_count == 2 and alert.next_reraise_at is None
    assert len(await _audit(h, "alert_reraised")) == 2
    # Acknowledging from the re-raise updates the original and the re-raises.
    await h.press(
        group.member(2001, first_name="Nora"), "Acknowledge", message_id=second.message_id
    )
    assert "Acknowledged by Nora" in message(group, mid).text
    assert "Acknowledged by Nora" in message(group, first.message_id).text
    assert message(group, second.message_id).labels == ["Resolve", *FOLLOW_UPS]


async def test_acknowledged_immediate_is_not_raised_again(harness: Harness) -> None:
    h = harness
    user = await _patient(h, 6005, "P-6005")
    h.clock.set(IN_HOURS)
    group = h.server.group(GROUP_A)
    mid = await _red_flag(h, user)
    h.clock.set(IN_HOURS + timedelta(minutes=5))
    await h.press(group.member(2001, first_name="Nora"), "Acknowledge", message_id=mid)
    count = len(group.messages)
    for minutes in (15, 30, 60):
        h.clock.set(IN_HOURS + timedelta(minutes=minutes))
        assert await _scan(h) == 0
    assert len(group.messages) == count


async def test_urgent_is_raised_again_at_the_end_of_the_business_day(harness: Harness) -> None:
    h = harness
    user = await _patient(h, 6006, "P-6006")
    h.clock.set(IN_HOURS)
    group = h.server.group(GROUP_A)
    mid = await _took_more(h, user)
    assert "URGENT" in message(group, mid).text
    h.clock.set(IN_HOURS + timedelta(minutes=30))
    assert await _scan(h) == 0  # URGENT: not at 15 or 30 min
    end_of_day = datetime(2026, 1, 13, 22, 0, tzinfo=UTC)  # 17:00 in New York
    h.clock.set(end_of_day - timedelta(seconds=1))
    assert await _scan(h) == 0
    h.clock.set(end_of_day)
    assert await _scan(h) == 1
    reraise = last(group)
    assert "URGENT" in reraise.text and "business day" in reraise.text
    assert "@dr_oncall" not in reraise.text
    h.clock.set(end_of_day + timedelta(days=1))
    assert await _scan(h) == 0  # once


async def test_after_hours_alert_is_marked_and_the_card_says_nobody_is_watching(
    harness: Harness,
) -> None:
    h = harness
    user = await _patient(h, 6007, "P-6007")
    h.clock.set(AFTER_HOURS)
    group = h.server.group(GROUP_A)
    mid = await _red_flag(h, user)
    card = last(user)
    assert "911" in card.text
    assert "no one is watching right now" in card.text
    assert "they are back Wed 2026-01-14 09:00" in card.text
    assert "Your care team's hours: Mon–Fri, 09:00–17:00 (New York time)." in card.text
    assert "has been notified" not in card.text
    alert = await h.scalar(select(Alert))
    assert alert is not None and alert.after_hours
    posted = message(group, mid).text
    assert "outside coverage hours (Mon, Tue, Wed, Thu, Fri 09:00–17:00)" in posted
    events = await _audit(h, "alert_raised")
    assert events[0].details["after_hours"] is True


async def test_a_cohort_watching_24_7_never_claims_the_team_is_away(harness: Harness) -> None:
    h = harness
    user = h.server.user(6008, first_name="Pat")
    await enrol(h, user, "P-6008", cohort="clinic-b")
    h.clock.set(datetime(2026, 1, 17, 23, 0, tzinfo=UTC))  # a Saturday night in London
    await h.send(user, "/checkin")
    await answer_day(h, user, TO_SIDE_EFFECTS, until="side_effects")
    await h.press(user, RED_FLAG)
    await h.press(user, "Done")
    assert "has been notified" in last(user).text
    assert "Your care team watches for alerts at all hours." in last(user).text
    alert = await h.scalar(select(Alert))
    assert alert is not None and not alert.after_hours
    assert "coverage" not in last(h.server.group(GROUP_B)).text


@pytest.mark.parametrize(
    ("raised", "patient_due", "group_due"),
    [
        (IN_HOURS, "Tue 2026-01-13 14:00", "2026-01-13 14:00 EST"),  # 4 business hours
        (AFTER_HOURS, "Wed 2026-01-14 12:00", "2026-01-14 12:00 EST"),  # noon next business day
    ],
)
async def test_urgent_says_when_it_will_be_reviewed_with_the_short_card(
    harness: Harness, raised: datetime, patient_due: str, group_due: str
) -> None:
    h = harness
    user = await _patient(h, 6009, "P-6009")
    h.clock.set(raised)
    mid = await _took_more(h, user)
    assert f"Review by {group_due}" in message(h.server.group(GROUP_A), mid).text
    card = last(user)
    if raised == IN_HOURS:
        expected = f"Your care team has been notified and will review this by {patient_due}."
    else:
        expected = (
            "no one is watching right now: they are back Wed 2026-01-14 09:00 "
            f"and will review it by {patient_due}."
        )
    assert expected in card.text
    assert "911" in card.text and "988" in card.text
    assert "Someone to talk to" not in card.text  # the short card, not the full one
    assert "not watched around the clock" in card.text


async def test_a_safety_answer_gets_the_full_card_not_the_short_one(harness: Harness) -> None:
    h = harness
    user = await _patient(h, 6010, "P-6010")
    h.clock.set(AFTER_HOURS)
    await h.send(user, "/checkin")
    await answer_day(
        h,
        user,
        {**TO_SIDE_EFFECTS, "side_effects": "None", "safety": "Yes"},
        until="safety_now",
    )
    texts = [m.text for m in user.messages]
    assert len([t for t in texts if "Someone to talk to" in t]) == 1  # the full card
    assert not any("If you ever feel in danger" in t for t in texts)  # not the short one too
    card = next(t for t in texts if "Someone to talk to" in t)
    # Passive thoughts are URGENT: the full card says when (after hours: noon next business day).
    assert "no one is watching right now" in card
    assert "review it by Wed 2026-01-14 12:00" in card
    await h.press(user, "No")  # the follow-up: not unsafe now
    posted = last(h.server.group(GROUP_A)).text
    assert "URGENT" in posted and "Review by 2026-01-14 12:00 EST" in posted


async def _head_of(h: Harness, label: str) -> int:
    head = await h.scalar(
        select(Alert.id)
        .join(Patient, Patient.id == Alert.patient_id)
        .where(Patient.label == label)
    )
    assert head is not None
    return head


async def test_due_re_raises_of_a_cohort_share_one_message(harness: Harness) -> None:
    h = harness
    users = [await _patient(h, 6011 + i, f"P-601{1 + i}") for i in range(2)]
    h.clock.set(IN_HOURS)
    group = h.server.group(GROUP_A)
    originals = [await _red_flag(h, user) for user in users]
    assert len(set(originals)) == 2  # each alone: a message each, at once
    h.clock.set(IN_HOURS + timedelta(minutes=15))
    assert await _scan(h) == 2
    first = last(group)
    assert first.text.startswith("🔁 2 alerts still not acknowledged")
    assert "P-6011" in first.text and "P-6012" in first.text and "@dr_oncall" not in first.text
    assert first.labels == ["Ack P-6011", "Resolve P-6011", "Ack P-6012", "Resolve P-6012"]
    row = await h.scalar(
        select(OutboxMessage).where(
            OutboxMessage.chat_id == GROUP_A,
            OutboxMessage.telegram_message_id == first.message_id,
        )
    )
    assert row is not None and "reply_parameters" not in row.payload  # two originals
    h.clock.set(IN_HOURS + timedelta(minutes=30))
    assert await _scan(h) == 2
    second = last(group)
    assert second.text.count("@dr_oncall") == 1  # once for the message
    assert len(await _audit(h, "alert_reraised")) == 4

    nora = group.member(2001, first_name="Nora")
    head = await _head_of(h, "P-6011")
    await h.press_data(nora, originals[1], f"g|{head}|ack")  # on a message without it
    assert group.callback_answers[-1].text == REFUSED
    await h.press(nora, "Ack P-6011", message_id=second.message_id)
    assert "Acknowledged by Nora" in message(group, originals[0]).text
    assert "Acknowledged by Nora" not in message(group, originals[1]).text
    for mid in (first.message_id, second.message_id):
        shown = message(group, mid)
        assert shown.text.count("Acknowledged by Nora") == 1
        checklist = [f"P-6011: {name}" for name in FOLLOW_UPS]
        assert shown.labels == ["Resolve P-6011", *checklist, "Ack P-6012", "Resolve P-6012"]
    other = await h.scalar(select(Alert).where(Alert.id == await _head_of(h, "P-6012")))
    assert other is not None and other.acknowledged_at is None

    await h.press(nora, "Resolve P-6011", message_id=first.message_id)
    await h.press(nora, "Resolve P-6012", message_id=second.message_id)
    for mid in (first.message_id, second.message_id, *originals):
        assert message(group, mid).buttons == []
    assert await h.count(Alert, Alert.status == "resolved") == 2
