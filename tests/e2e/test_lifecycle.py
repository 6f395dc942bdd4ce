"""Pause, resume, stop, a copy of one's data, and erasure."""

from __future__ import annotations

import base64
import csv
import io
import json
from datetime import timedelta

from sqlalchemy import select

from storage.models import (
    Answer,
    AuditEvent,
    Checkin,
    Invite,
    OutboxMessage,
    Patient,
    PatientMessage,
)
from tests.e2e.conftest import GROUP_A
from tests.e2e.flows import enrol, last
from tests.support.harness import Harness


async def _patient(h: Harness, label: str) -> Patient:
    patient = await h.scalar(select(Patient).where(Patient.label == label))
    assert patient is not None
    return patient


async def _answer_mood(h: Harness, user: object) -> None:
    await h.send(user, "/checkin")
    await h.press(user, "5")


async def test_pause_stops_prompts_until_it_ends(harness: Harness) -> None:
    h = harness
    pam = h.server.user(4001, first_name="Pam")
    await enrol(h, pam, "P-LIF1")
    await h.send(pam, "/pause")
    await h.press(pam, "3 days")
    assert "paused until" in last(pam).text
    patient = await _patient(h, "P-LIF1")
    assert (patient.status, patient.next_prompt_at) == ("paused", None)
    assert patient.paused_until == h.clock.now() + timedelta(days=3)
    await h.advance(timedelta(days=1))
    await h.due_scan()
    assert await h.count(Checkin) == 0
    # /checkin while paused says so, until when, and how to start again (not "contact
    # your care team", which sent patients to the clinic for something they did).
    await h.send(pam, "/checkin")
    reply = last(pam).text
    assert "paused until 2026-01-15 08:00" in reply and "/resume" in reply
    assert "care team" not in reply
    assert await h.count(Checkin) == 0
    # Not yet over: nothing changes.
    assert await h.runtime.services.lifecycle.resume_due() == 0
    await h.advance(timedelta(days=2, seconds=1))
    assert await h.runtime.services.lifecycle.resume_due() == 1
    await h.settle()
    assert "Check-ins are on again" in last(pam).text
    patient = await _patient(h, "P-LIF1")
    assert (patient.status, patient.paused_until) == ("active", None)
    assert patient.next_prompt_at is not None and patient.next_prompt_at > h.clock.now()
    assert await h.runtime.services.lifecycle.resume_due() == 0
    actions = [e.action for e in await h.rows(select(AuditEvent).order_by(AuditEvent.id))]
    assert actions[-3:] == ["paused", "alert_raised", "resumed"]  # the team was told


async def test_resume_early_and_cancel(harness: Harness) -> None:
    h = harness
    rex = h.server.user(4002, first_name="Rex")
    await enrol(h, rex, "P-LIF2")
    await h.send(rex, "/resume")
    assert "not paused" in last(rex).text
    await h.send(rex, "/pause")
    await h.press(rex, "Cancel")
    assert "Nothing has changed" in last(rex).text
    assert (await _patient(h, "P-LIF2")).status == "active"
    await h.send(rex, "/pause")
    await h.press(rex, "7 days")
    await h.send(rex, "/resume")
    assert "Welcome back" in last(rex).text
    assert (await _patient(h, "P-LIF2")).status == "active"


async def test_stop_withdraws_and_tells_the_group_the_label_only(harness: Harness) -> None:
    h = harness
    sid = h.server.user(4003, first_name="Sid", username="sid_real")
    await enrol(h, sid, "P-LIF3")
    await h.send(sid, "/stop")
    await h.press(sid, "Cancel")
    assert (await _patient(h, "P-LIF3")).status == "active"
    await h.send(sid, "/stop")
    await h.press(sid, "Yes, stop")
    assert "stopped taking part" in last(sid).text
    patient = await _patient(h, "P-LIF3")
    assert (patient.status, patient.next_prompt_at) == ("withdrawn", None)
    assert patient.withdrawn_at == h.clock.now()
    group = h.server.group(GROUP_A)
    notice = group.messages[-1].text
    assert "P-LIF3" in notice and "Sid" not in notice and "sid_real" not in notice
    # No more prompts, and the patient's writing is neither stored nor passed on.
    await h.advance(timedelta(days=1))
    await h.due_scan()
    assert await h.count(Checkin) == 0
    await h.send(sid, "/checkin")
    assert "stopped taking part" in last(sid).text  # not "not active ... contact them"
    await h.send(sid, "are you there?")
    assert "stopped taking part" in last(sid).text
    assert await h.count(PatientMessage) == 0
    await h.send(sid, "/pause")
    assert "stopped taking part" in last(sid).text


async def test_mydata_queues_json_and_csv_documents(harness: Harness) -> None:
    h = harness
    mia = h.server.user(4004, first_name="Mia")
    await enrol(h, mia, "P-LIF4")
    await _answer_mood(h, mia)
    await h.send(mia, "I slept badly")
    await h.send(mia, "/mydata")
    rows = await h.rows(
        select(OutboxMessage)
        .where(OutboxMessage.method == "sendDocument")
        .order_by(OutboxMessage.id)
    )
    assert [r.payload["filename"] for r in rows] == [
        "moodcheck-P-LIF4.json",
        "moodcheck-P-LIF4.csv",
    ]
    for row in rows:
        assert set(row.payload) == {"chat_id", "document_base64", "filename", "caption"}
        assert row.payload["chat_id"] == mia.chat_id
    document = json.loads(base64.b64decode(rows[0].payload["document_base64"]))
    assert document["label"] == "P-LIF4"
    assert document["settings"]["timezone"] == "America/New_York"
    assert document["answers"][0]["local_date"] == "2026-01-12"
    assert document["answers"][0]["item"] == "mood"
    assert document["answers"][0]["value"] == "5"
    assert document["checkins"][0]["status"] == "open"
    assert document["messages"][0]["text"] == "I slept badly"
    table = list(
        csv.reader(io.StringIO(base64.b64decode(rows[1].payload["document_base64"]).decode()))
    )
    assert table[0] == ["local_date", "checkin_status", "item", "value"]
    assert table[1] == ["2026-01-12", "open", "mood", "5"]
    # Both files reached the patient's chat as documents, byte for byte.
    delivered = [m for m in mia.messages if m.kind == "document"]
    assert [m.filename for m in delivered] == ["moodcheck-P-LIF4.json", "moodcheck-P-LIF4.csv"]
    assert delivered[0].document is not None
    assert json.loads(delivered[0].document)["label"] == "P-LIF4"
    assert all(r.status == "sent" for r in rows)


async def test_delete_asks_twice_then_erases_and_unlinks_the_person(harness: Harness) -> None:
    h = harness
    dan = h.server.user(4005, first_name="Dan", username="dan_real")
    await enrol(h, dan, "P-LIF5")
    await _answer_mood(h, dan)
    await h.send(dan, "a note for my nurse")
    nurse = h.server.group(GROUP_A).member(9005, first_name="Nurse", status="administrator")
    await h.send(nurse, "/dosing P-LIF5 mon,thu 19:00")
    await h.send(nurse, "/course P-LIF5 start")
    await h.send(nurse, "/optional P-LIF5 bp on")
    treated = await _patient(h, "P-LIF5")
    assert treated.dosing_days and treated.course_started_on and treated.optional_items
    await h.send(dan, "/delete")
    assert "record of events" in last(dan).text  # clinic-a keeps the audit trail
    await h.press(dan, "Cancel")
    assert await h.count(Answer) == 1
    await h.send(dan, "/delete")
    await h.press(dan, "Yes, erase my data")
    assert "Are you sure" in last(dan).text
    assert await h.count(Answer) == 1
    await h.press(dan, "Erase everything now")
    assert "has been erased" in last(dan).text
    assert await h.count(Answer) == 0
    assert await h.count(Checkin) == 0
    assert await h.count(PatientMessage) == 0
    patient = await _patient(h, "P-LIF5")
    assert patient.status == "withdrawn"
    assert patient.telegram_user_id != dan.id and patient.chat_id != dan.chat_id
    # The treatment details a provider set went too.
    assert (
        patient.dosing_days,
        patient.dosing_time,
        patient.dosing_since,
        patient.course_started_on,
        patient.optional_items,
    ) == (None,) * 5
    assert await h.count(Invite, Invite.claimed_by_user_id == dan.id) == 0
    assert await h.count(OutboxMessage, OutboxMessage.patient_id == patient.id) == 0
    assert "P-LIF5" in h.server.group(GROUP_A).messages[-1].text
    assert "dan" not in h.server.group(GROUP_A).messages[-1].text.lower()
    actions = [e.action for e in await h.rows(select(AuditEvent))]
    assert "data_erased" in actions and "consented" in actions
    # The person is a stranger now.
    await h.send(dan, "hello?")
    assert "personal invite link" in last(dan).text
    assert await h.count(PatientMessage) == 0


async def test_help_lists_the_commands(harness: Harness) -> None:
    h = harness
    stranger = h.server.user(4006, first_name="New", language_code="es")
    await h.send(stranger, "/help")
    assert "/mydata" in last(stranger).text and "registro" in last(stranger).text
    commands = h.server.state.commands
    english = next(v for (scope, lang), v in commands.items() if lang == "")
    spanish = next(v for (scope, lang), v in commands.items() if lang == "es")
    assert {c["command"] for c in english} >= {"settings", "pause", "stop", "mydata", "delete"}
    assert {c["command"] for c in english} == {c["command"] for c in spanish}
    assert english != spanish


async def _paused_then_blocked(h: Harness, user: object, label: str, days: int) -> Patient:
    """Enrol, have the care team pause the patient for ``days``, block the bot, and let a
    reply to the patient fail with 403 (so they are marked unreachable while paused)."""
    await enrol(h, user, label)
    nurse = h.server.group(GROUP_A).member(9001, first_name="Nurse", status="administrator")
    await h.send(nurse, f"/pause {label} {days}")
    assert (await _patient(h, label)).status == "paused"
    user.block_bot()  # type: ignore[attr-defined]
    await h.send(user, "/checkin")  # the reply ("paused until ...") is refused: 403
    patient = await _patient(h, label)
    assert patient.status == "unreachable" and patient.status_before_unreachable == "paused"
    return patient


async def test_a_paused_patient_who_blocked_the_bot_comes_back_paused(harness: Harness) -> None:
    # The bug of issue 14: the 403 forgot the pause and writing again made the patient active,
    # prompted the next day while paused_until was still 14 days away.
    h = harness
    pia = h.server.user(4101, first_name="Pia")
    blocked = await _paused_then_blocked(h, pia, "P-LIF9", 14)
    until = blocked.paused_until
    assert until == h.clock.now() + timedelta(days=14)
    await h.advance(timedelta(days=2))
    pia.unblock_bot()
    await h.send(pia, "hello again")
    patient = await _patient(h, "P-LIF9")
    assert (patient.status, patient.paused_until) == ("paused", until)
    assert patient.next_prompt_at is None and patient.unreachable_since is None
    assert patient.status_before_unreachable is None
    # Not prompted the next day, nor on any day of the pause.
    await h.advance(timedelta(days=1))
    assert await h.due_scan() == 0
    assert await h.count(Checkin) == 0
    await h.send(pia, "/checkin")
    assert "paused until" in last(pia).text
    assert await h.count(Checkin) == 0
    # The pause ends when it was set to, as any pause does.
    await h.advance(until - h.clock.now() + timedelta(seconds=1))
    assert await h.runtime.services.lifecycle.resume_due() == 1
    assert (await _patient(h, "P-LIF9")).status == "active"


async def test_a_pause_that_ended_while_unreachable_leaves_the_patient_active(
    harness: Harness,
) -> None:
    h = harness
    ada = h.server.user(4102, first_name="Ada")
    await _paused_then_blocked(h, ada, "P-LIF10", 1)
    await h.advance(timedelta(days=3))
    assert await h.runtime.services.lifecycle.resume_due() == 0  # unreachable: no one to tell
    ada.unblock_bot()
    await h.send(ada, "/checkin")
    patient = await _patient(h, "P-LIF10")
    assert (patient.status, patient.paused_until) == ("active", None)
    assert patient.next_prompt_at is not None and patient.next_prompt_at > h.clock.now()
    assert "1/7" in last(ada).text  # /checkin starts today's check-in at once
