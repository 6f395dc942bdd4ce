"""Replies from the care team (issue 19 item 4): a provider's reply in the group becomes, once
confirmed, a "Message from your care team" to the patient; the patient's next text comes
back to the group as the reply. Through the real stack: sandbox Bot API, database, clock."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import timedelta

import pytest
from sqlalchemy import Text, select, type_coerce, update

from bot.config import AppConfig
from bot.domain.clock import ManualClock
from bot.sandbox.server import FakeBotApi
from bot.services.provider.team_messages import DRAFT_MINUTES, RELAY_HOURS
from storage.models import Alert, AuditEvent, Patient, TeamMessage
from tests.e2e.conftest import GROUP_A
from tests.e2e.flows import enrol, last
from tests.support.harness import Harness

QUESTION = "We read your message. Could we call you today at 3pm? <Reply here>"


async def _reply(h: Harness, member: object, text: str, to: int) -> None:
    h.track(await member.send_text(text, reply_to=to))  # type: ignore[attr-defined]
    await h.settle()


async def test_a_reply_to_a_notice_reaches_the_patient_once_confirmed_and_back(
    harness: Harness,
) -> None:
    h = harness
    group = h.server.group(GROUP_A)
    nora, sam = (
        group.member(2001, first_name="Nora", status="administrator"),
        group.member(2002, first_name="Sam"),
    )
    ivy = h.server.user(7001, first_name="Ivy")
    patient = await enrol(h, ivy, "P-TM01")
    await h.send(ivy, "I had a rough night, my name is Ivy")
    notice = last(group)
    assert "P-TM01" in notice.text and "Ivy" not in notice.text

    # Nora replies to the notice: the group sees exactly what Ivy would get, with buttons.
    before = len(ivy.messages)
    await _reply(h, nora, QUESTION, notice.message_id)
    preview = last(group)
    assert "To P-TM01 (English), exactly as below" in preview.text
    assert "Message from your care team\n\n" + QUESTION in preview.text
    assert preview.labels == ["Send to P-TM01", "Cancel"]
    assert len(ivy.messages) == before  # nothing goes out before the tap

    # Sam did not write it: his tap sends nothing.
    await h.press(sam, "Send to P-TM01", message_id=preview.message_id)
    assert group.callback_answers[-1].text == "Only the provider who wrote it can send it."
    assert len(ivy.messages) == before

    await h.press(nora, "Send to P-TM01", message_id=preview.message_id)
    assert group.callback_answers[-1].text == "Sent."
    assert last(ivy).text == "💬 Message from your care team\n\n" + QUESTION
    edited = next(m for m in group.messages if m.message_id == preview.message_id)
    assert edited.text.startswith("✅ Sent to P-TM01 by Nora") and edited.labels == []
    audit = await h.rows(select(AuditEvent).where(AuditEvent.action == "team_message_sent"))
    assert [(a.actor, a.patient_id, a.at) for a in audit] == [
        ("provider:2001", patient.id, h.clock.now())
    ]
    # A double tap (a replay of the data) sends nothing twice.
    await h.press_data(nora, preview.message_id, f"m|{audit[0].details['team_message_id']}|s")
    assert group.callback_answers[-1].text == "Already done."
    assert sum("Message from your care team" in m.text for m in ivy.messages) == 1

    # Ivy's next text comes back as her reply (the cohort does not share text: no text).
    await h.advance(timedelta(hours=5))
    await h.send(ivy, "yes 3pm is fine")
    relayed = last(group)
    assert relayed.text.startswith("✉️ P-TM01 replied to the care team's message")
    assert "/messages P-TM01" in relayed.text and "3pm" not in relayed.text
    # ... once: the text after it is an ordinary message.
    await h.send(ivy, "thanks")
    assert "P-TM01 sent a message" in last(group).text
    stored = await h.rows(select(TeamMessage))
    assert [(m.status, m.reply_message_id is not None) for m in stored] == [("sent", True)]
    # The provider's words are encrypted at rest, as patients' free text is.
    [raw] = await h.rows(select(type_coerce(TeamMessage.body, Text)))
    assert any(stored[0].body in m.text for m in ivy.messages) and stored[0].body not in raw

    # Nora may reply to the relayed reply in turn: it is about Ivy too.
    await _reply(h, nora, "See you at 3.", relayed.message_id)
    assert "To P-TM01" in last(group).text


async def test_cancel_stale_forged_and_unrelated(harness: Harness) -> None:
    h = harness
    group = h.server.group(GROUP_A)
    nora = group.member(2001, first_name="Nora", status="administrator")
    ivy = h.server.user(7002, first_name="Ivy")
    await enrol(h, ivy, "P-TM02")
    await h.send(ivy, "hello")
    notice = last(group)
    before = len(ivy.messages)

    await _reply(h, nora, "first", notice.message_id)
    await h.press(nora, "Cancel", message_id=last(group).message_id)
    assert group.callback_answers[-1].text == "Cancelled. Nothing was sent."
    assert "Not sent to P-TM02: cancelled by Nora" in last(group).text

    await _reply(h, nora, "second", notice.message_id)
    stale = last(group)
    await h.advance(timedelta(minutes=DRAFT_MINUTES + 1))
    await h.press(nora, "Send to P-TM02", message_id=stale.message_id)
    assert group.callback_answers[-1].text == "Too late: reply again to send it."
    assert len(ivy.messages) == before

    # A forged tap: the right data on another message changes nothing.
    await _reply(h, nora, "third", notice.message_id)
    # The body is encrypted at rest (storage/crypto.py): it is compared in Python.
    [draft] = [m for m in await h.rows(select(TeamMessage)) if m.body == "third"]
    await h.press_data(nora, notice.message_id, f"m|{draft.id}|s")
    assert group.callback_answers[-1].text != "Sent."
    assert len(ivy.messages) == before

    # A reply to a message that is about no patient (a command's answer) is ignored.
    await h.send(nora, "/patients")
    listing = last(group)
    count = len(group.messages)
    await _reply(h, nora, "not for a patient", listing.message_id)
    assert len(group.messages) == count


async def test_a_reply_to_an_alert_and_never_to_a_discharged_patient(
    harness: Harness,
) -> None:
    h = harness
    group = h.server.group(GROUP_A)
    nora = group.member(2001, first_name="Nora", status="administrator")
    kai = h.server.user(7003, first_name="Kai")
    await enrol(h, kai, "P-TM03")
    await h.send(kai, "I want to end my life")
    alert_message = next(m for m in group.messages if "IMMEDIATE" in m.text)
    await _reply(h, nora, "We are calling you now.", alert_message.message_id)
    draft = last(group)
    assert "To P-TM03" in draft.text
    # Discharged before the tap: nothing is sent, and the provider is told why.
    await h.send(nora, "/discharge P-TM03")
    before = len(kai.messages)
    await h.press(nora, "Send to P-TM03", message_id=draft.message_id)
    assert group.callback_answers[-1].text == "Not sent: the patient is no longer followed."
    assert len(kai.messages) == before
    # And a new reply gets a clear answer at once.
    await _reply(h, nora, "Hello?", alert_message.message_id)
    assert "P-TM03 is no longer followed (discharged or withdrawn)" in last(group).text
    assert await h.count(TeamMessage) == 1


async def test_crisis_words_in_the_reply_still_raise_the_alert(harness: Harness) -> None:
    h = harness
    group = h.server.group(GROUP_A)
    nora = group.member(2001, first_name="Nora", status="administrator")
    lou = h.server.user(7004, first_name="Lou")
    await enrol(h, lou, "P-TM04")
    await h.send(lou, "hi")
    await _reply(h, nora, "How are you today?", last(group).message_id)
    await h.press(nora, "Send to P-TM04", message_id=last(group).message_id)
    await h.send(lou, "honestly I want to kill myself")
    assert "If you are in danger right now" in lou.messages[-2].text
    alerts = await h.rows(select(Alert))
    assert [(a.rule, a.tier) for a in alerts] == [("crisis_words", "IMMEDIATE")]
    assert any("P-TM04 replied to the care team's message" in m.text for m in group.messages)


async def test_the_relay_window_closes(harness: Harness) -> None:
    h = harness
    group = h.server.group(GROUP_A)
    nora = group.member(2001, first_name="Nora", status="administrator")
    ana = h.server.user(7005, first_name="Ana")
    await enrol(h, ana, "P-TM05")
    await h.send(ana, "hi")
    await _reply(h, nora, "Checking in", last(group).message_id)
    await h.press(nora, "Send to P-TM05", message_id=last(group).message_id)
    await h.advance(timedelta(hours=RELAY_HOURS, minutes=1))
    await h.send(ana, "sorry, late")
    assert "P-TM05 sent a message" in last(group).text


async def test_too_long_with_its_frame_gets_a_clear_answer(harness: Harness) -> None:
    h = harness
    group = h.server.group(GROUP_A)
    nora = group.member(2001, first_name="Nora", status="administrator")
    ana = h.server.user(7006, first_name="Ana")
    await enrol(h, ana, "P-TM06")
    await h.send(ana, "hi")
    await _reply(h, nora, "x" * 4090, last(group).message_id)
    answer = last(group).text
    assert answer.startswith("Too long to send with its heading: at most ")
    assert "(yours has 4090)" in answer
    assert await h.count(TeamMessage) == 0


@pytest.fixture(name="sharing")
async def fx_sharing(
    server: FakeBotApi, db_url: str, config: AppConfig, clock: ManualClock
) -> AsyncIterator[Harness]:
    cohorts = tuple(c.model_copy(update={"share_text_with_group": True}) for c in config.cohorts)
    harness = Harness(server, db_url, replace(config, cohorts=cohorts), clock)
    server.group(GROUP_A, title="Clinic A providers")
    await harness.start_bot()
    yield harness
    await harness.close()


async def test_a_cohort_that_shares_text_sees_the_reply(sharing: Harness) -> None:
    h = sharing
    group = h.server.group(GROUP_A)
    nora = group.member(2001, first_name="Nora", status="administrator")
    eva = h.server.user(7007, first_name="Eva")
    await enrol(h, eva, "P-TM07")
    await h.send(eva, "hi")
    await _reply(h, nora, "Is 3pm ok?", last(group).message_id)
    await h.press(nora, "Send to P-TM07", message_id=last(group).message_id)
    await h.send(eva, "yes, 3pm is fine")
    relayed = last(group)
    assert "P-TM07 replied to the care team's message" in relayed.text
    assert "yes, 3pm is fine" in relayed.text


async def test_a_spanish_speaking_patient_gets_the_heading_in_spanish(harness: Harness) -> None:
    h = harness
    group = h.server.group(GROUP_A)
    nora = group.member(2001, first_name="Nora", status="administrator")
    sol = h.server.user(7008, first_name="Sol")
    patient = await enrol(h, sol, "P-TM08")
    async with h._sessions() as session:  # as if chosen in /settings
        await session.execute(update(Patient).where(Patient.id == patient.id).values(locale="es"))
        await session.commit()
    await h.send(sol, "hola")
    await _reply(h, nora, "¿Le va bien a las 15:00?", last(group).message_id)
    preview = last(group)
    assert "To P-TM08 (Español)" in preview.text  # the group's language, the patient's frame
    assert "Mensaje de su equipo de atención\n\n¿Le va bien a las 15:00?" in preview.text
    await h.press(nora, "Send to P-TM08", message_id=preview.message_id)
    assert last(sol).text == "💬 Mensaje de su equipo de atención\n\n¿Le va bien a las 15:00?"


async def test_only_a_clinician_can_write_to_a_patient(harness: Harness) -> None:
    h = harness
    group = h.server.group(GROUP_A)
    max_ = group.member(2003, first_name="Max")  # in the group, not an administrator
    ivy = h.server.user(7009, first_name="Ivy")
    await enrol(h, ivy, "P-TM09")
    await h.send(ivy, "A question for the team")
    notice = last(group)
    before = len(ivy.messages)

    await _reply(h, max_, QUESTION, notice.message_id)
    refusal = last(group)
    assert refusal.text == (
        "Only this group's administrators can send messages to patients. Ask one of them to "
        "send it, or to make you an administrator. Nothing was sent."
    )
    assert "Send to P-TM09" not in [label for m in group.messages for label in m.labels]
    assert len(ivy.messages) == before
    assert await h.count(TeamMessage) == 0
    refused = await h.rows(
        select(AuditEvent).where(AuditEvent.action == "provider_command_refused")
    )
    assert [(a.actor, a.details["command"], a.details["reason"]) for a in refused] == [
        ("provider:2003", "team_message", "not_group_admin")
    ]
