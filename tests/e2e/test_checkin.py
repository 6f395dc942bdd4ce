"""A patient's daily check-in, through the real stack: enrol, consent, taps, alerts."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select
from telegram import Update

from storage.models import Alert, Answer, AuditEvent, Checkin, Invite, OutboxMessage, Patient
from tests.e2e.conftest import GROUP_A
from tests.e2e.flows import answer_all, enrol, last
from tests.support.harness import Harness


async def test_enrol_consent_and_full_checkin(harness: Harness) -> None:
    h = harness
    alice = h.server.user(1001, first_name="Alice", language_code="en")
    link = await h.runtime.services.enrolment.create_invite("clinic-a", "P-7Q3K", "test")
    await h.send(alice, f"/start {link.code}")
    consent = last(alice)
    assert "Telegram is not a medical-grade channel" in consent.text
    assert "cannot give medical advice" in consent.text
    await h.press(alice, "I agree")
    assert "you are enrolled" in last(alice).text
    assert "09:00" in last(alice).text

    patient = await h.scalar(select(Patient).where(Patient.telegram_user_id == 1001))
    assert patient is not None
    assert (patient.label, patient.status, patient.timezone) == (
        "P-7Q3K",
        "active",
        "America/New_York",
    )
    invite = await h.scalar(select(Invite).where(Invite.label == "P-7Q3K"))
    assert invite is not None and invite.status == "accepted"

    await h.send(alice, "/checkin")
    question = last(alice)
    assert "1/4" in question.text and "mood" in question.text
    before = len(alice.messages)
    await answer_all(h, alice, ["7", "3", "Good", "No"])
    # One message, edited in place as the patient taps: no new messages.
    assert len(alice.messages) == before
    assert "Thank you" in last(alice).text
    assert last(alice).buttons == []

    checkin = await h.scalar(select(Checkin).where(Checkin.patient_id == patient.id))
    assert checkin is not None
    assert (checkin.status, checkin.local_date.isoformat()) == ("completed", "2026-01-12")
    answers = await h.rows(
        select(Answer.item_id, Answer.value).where(Answer.checkin_id == checkin.id)
    )
    assert dict(answers) == {"mood": "7", "anxiety": "3", "sleep": "4", "safety": "no"}
    assert await h.count(Alert) == 0
    assert h.server.group(GROUP_A).messages == []
    assert {e.action for e in await h.rows(select(AuditEvent))} >= {"invite_created", "consented"}


async def test_safety_yes_alerts_the_group_and_shows_the_crisis_card_first(
    harness: Harness,
) -> None:
    h = harness
    bob = h.server.user(1002, first_name="Bobby Tables", language_code="en")
    await enrol(h, bob, "P-B0B1")
    await h.send(bob, "/checkin")
    checkin_message = last(bob).message_id
    await answer_all(h, bob, ["2", "8", "Poor", "Yes"])

    alert = await h.scalar(select(Alert))
    assert alert is not None
    assert (alert.rule, alert.tier, alert.status) == ("safety_thoughts", "URGENT", "open")

    group = h.server.group(GROUP_A).messages
    assert len(group) == 1
    text = group[0].text
    assert "P-B0B1" in text and "URGENT" in text and "Safety question" in text
    assert "Bobby" not in text and "Tables" not in text  # never the Telegram name
    assert "2026-01-12" in text

    # The crisis card is a new message that arrived before the check-in message was
    # edited to its final "done" state.
    card = [m for m in bob.messages if "988" in m.text]
    assert len(card) == 1
    assert "911" in card[0].text and "notified" in card[0].text
    events = [e for e in h.server.transcript(bob.chat_id) if e.kind in {"bot_message", "bot_edit"}]
    card_at = next(i for i, e in enumerate(events) if e.message_id == card[0].message_id)
    done_at = next(
        i for i, e in enumerate(events) if e.message_id == checkin_message and "done" in e.text
    )
    assert card_at < done_at
    final = next(m for m in bob.messages if m.message_id == checkin_message)
    assert "care team has been notified" in final.text


async def test_restart_in_the_middle_of_a_checkin_continues_it(harness: Harness) -> None:
    h = harness
    carol = h.server.user(1003, first_name="Carol")
    await enrol(h, carol, "P-C4R0")
    await h.send(carol, "/checkin")
    await answer_all(h, carol, ["5", "5"])
    await h.stop_bot()
    await h.start_bot()
    # The same message still shows the third question; the next tap continues from there.
    assert "3/4" in last(carol).text
    await answer_all(h, carol, ["OK", "No"])
    answers = await h.rows(select(Answer.item_id, Answer.value))
    assert sorted(answers) == [("anxiety", "5"), ("mood", "5"), ("safety", "no"), ("sleep", "3")]
    # Nothing was asked twice: each question text appeared once in the message's history.
    shown = [
        e.text for e in h.server.transcript(carol.chat_id) if e.kind in {"bot_message", "bot_edit"}
    ]
    for n in range(1, 5):
        assert sum(f"{n}/4" in text for text in shown) == 1


async def test_a_replayed_update_and_a_double_tap_store_one_answer(harness: Harness) -> None:
    h = harness
    dan = h.server.user(1004, first_name="Dan")
    await enrol(h, dan, "P-D4N0")
    await h.send(dan, "/checkin")
    message_id = last(dan).message_id
    first = await dan.press("6", message_id=message_id)
    second = await dan.press("6", message_id=message_id)  # before the first is handled
    h.track(first)
    h.track(second)
    await h.settle()
    # A redelivered update (same update_id: after a crash before getUpdates confirmed it, or
    # a webhook retry) goes through the Application again and changes nothing.
    app = h.runtime.application
    await app.process_update(Update.de_json(h.server.update_body(first), app.bot))
    await h.settle()
    assert await h.count(Answer) == 1
    assert "2/4" in last(dan).text
    assert "Already recorded." in [a.text for a in dan.callback_answers]


async def test_a_tap_on_yesterdays_checkin_is_refused(harness: Harness) -> None:
    h = harness
    erin = h.server.user(1005, first_name="Erin")
    await enrol(h, erin, "P-E41N")
    await h.send(erin, "/checkin")
    await h.advance(timedelta(days=1))
    await h.press(erin, "4")
    assert erin.callback_answers[-1].text == "This check-in has closed. Send /checkin for today's."
    assert await h.count(Answer) == 0


async def test_tapping_another_patients_checkin_is_refused(harness: Harness) -> None:
    h = harness
    fay = h.server.user(1006, first_name="Fay")
    gus = h.server.user(1007, first_name="Gus")
    await enrol(h, fay, "P-F4Y0")
    await enrol(h, gus, "P-6U50")
    await h.send(fay, "/checkin")
    fay_checkin = await h.scalar(select(Checkin.id))
    await h.send(gus, "/checkin")
    gus_message = last(gus).message_id
    await h.press_data(gus, gus_message, f"a|{fay_checkin}|0|9")
    assert gus.callback_answers[-1].text == "This button is not valid for you."
    assert await h.count(Answer) == 0
    assert "1/4" in last(fay).text


async def test_forged_and_truncated_buttons_are_refused(harness: Harness) -> None:
    h = harness
    hal = h.server.user(1008, first_name="Hal")
    await enrol(h, hal, "P-H4L0")
    await h.send(hal, "/checkin")
    checkin_id = await h.scalar(select(Checkin.id))
    message_id = last(hal).message_id
    for data in [
        "a|",
        "nonsense",
        f"a|{checkin_id}|2|5",
        f"a|{checkin_id}|0|11",
        f"a|{checkin_id}|0|-1",
        "c|1|y",
    ]:
        await h.press_data(hal, message_id, data)
    assert await h.count(Answer) == 0
    assert all(a.text for a in hal.callback_answers[-6:])
    assert "1/4" in last(hal).text


async def test_free_text_gets_a_fixed_reply(harness: Harness) -> None:
    h = harness
    ivy = h.server.user(1009, first_name="Ivy")
    await enrol(h, ivy, "P-1VY0")
    await h.send(ivy, "I feel odd today, should I take another dose?")
    assert "cannot give medical advice" in last(ivy).text
    assert "emergency" in last(ivy).text
    assert h.server.group(GROUP_A).messages == []
    assert await h.count(OutboxMessage, OutboxMessage.status != "sent") == 0
