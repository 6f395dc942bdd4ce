"""A patient's daily check-in, through the real stack: enrol, consent, taps, alerts."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select
from telegram import Update

from storage.models import Alert, Answer, AuditEvent, Checkin, Invite, OutboxMessage, Patient
from tests.e2e.conftest import GROUP_A
from tests.e2e.flows import (
    CALM_DAY,
    CALM_DAY_STORED,
    HARD_DAY,
    answer_all,
    answer_day,
    enrol,
    last,
    message,
)
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
    # No time is stated before the patient has chosen one (issue 12, item 11).
    assert "09:00" not in last(alice).text and "America/New_York" not in last(alice).text

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
    assert "1/7" in question.text and "mood" in question.text
    before = len(alice.messages)
    await answer_all(h, alice, CALM_DAY)
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
    assert dict(answers) == CALM_DAY_STORED
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
    await answer_day(h, bob, HARD_DAY, until="safety_now")
    # The follow-up question appears only after "yes".
    # The crisis card came at once (a new message); the check-in goes on in its own message.
    assert "988" in last(bob).text
    follow_up = message(bob, checkin_message).text
    assert "7b/7" in follow_up and "unsafe right now" in follow_up
    await answer_all(h, bob, {"safety_now": "No"})

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
    assert "care team has been notified" in message(bob, checkin_message).text


async def test_restart_in_the_middle_of_a_checkin_continues_it(harness: Harness) -> None:
    h = harness
    carol = h.server.user(1003, first_name="Carol")
    await enrol(h, carol, "P-C4R0")
    await h.send(carol, "/checkin")
    await answer_day(h, carol, {"mood": "5", "anxiety": "5"}, until="sleep")
    await h.stop_bot()
    await h.start_bot()
    # The same message still shows the third question; the next tap continues from there.
    assert "3/7" in last(carol).text
    await answer_all(
        h,
        carol,
        {
            "sleep": "OK",
            "energy": "OK",
            "dose": "As prescribed",
            "side_effects": "None",
            "safety": "No",
        },
    )
    answers = await h.rows(select(Answer.item_id, Answer.value))
    assert dict(answers) == {
        "mood": "5",
        "anxiety": "5",
        "sleep": "3",
        "energy": "3",
        "dose": "as_prescribed",
        "side_effects": "none",
        "safety": "no",
    }
    assert len(answers) == 7
    # Nothing was asked twice: each question text appeared once in the message's history.
    shown = [
        e.text for e in h.server.transcript(carol.chat_id) if e.kind in {"bot_message", "bot_edit"}
    ]
    for n in range(1, 8):
        assert sum(f"{n}/7" in text for text in shown) == 1


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
    assert "2/7" in last(dan).text
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
    await h.press_data(gus, gus_message, f"a|{fay_checkin}|mood|9")
    assert gus.callback_answers[-1].text == "This button is not valid for you."
    assert await h.count(Answer) == 0
    assert "1/7" in last(fay).text


async def test_forged_and_truncated_buttons_are_refused(harness: Harness) -> None:
    h = harness
    hal = h.server.user(1008, first_name="Hal")
    await enrol(h, hal, "P-H4L0")
    await h.send(hal, "/checkin")
    checkin_id = await h.scalar(select(Checkin.id))
    message_id = last(hal).message_id
    forged = [
        "a|",
        "nonsense",
        f"a|{checkin_id}|sleep|5",  # not the question asked
        f"a|{checkin_id}|mood|11",
        f"a|{checkin_id}|mood|-1",
        f"a|{checkin_id}|appetite|5",  # no such question
        f"a|{checkin_id}|2|5",  # by position, as buttons were before ids
        f"a|{checkin_id}|99|5",
        "c|1|y",
    ]
    for data in forged:
        await h.press_data(hal, message_id, data)
    assert await h.count(Answer) == 0
    assert len(hal.callback_answers) >= len(forged)
    assert all(a.text for a in hal.callback_answers[-len(forged) :])
    assert "1/7" in last(hal).text


async def test_free_text_gets_a_fixed_reply(harness: Harness) -> None:
    h = harness
    ivy = h.server.user(1009, first_name="Ivy")
    await enrol(h, ivy, "P-1VY0")
    await h.send(ivy, "I feel odd today, should I take another dose?")
    assert "cannot give medical advice" in last(ivy).text
    assert "emergency" in last(ivy).text
    # The care team is told a message came in: the label, never the text (by default).
    group = [m.text for m in h.server.group(GROUP_A).messages]
    assert len(group) == 1 and "P-1VY0" in group[0] and "dose" not in group[0]
    assert await h.count(OutboxMessage, OutboxMessage.status != "sent") == 0
