"""Provider commands in the provider group: invites, lists, one patient, alerts, pause,
resume, discharge and export; refused anywhere else."""

from __future__ import annotations

import csv
import io
from datetime import date, timedelta
from typing import Any

from sqlalchemy import select

from bot.config import AppConfig
from bot.domain.clock import ManualClock
from bot.sandbox.server import FakeBotApi
from bot.services.provider.commands import ProviderCall
from bot.transport.delivery import DeliveryPolicy
from storage.models import Alert, Answer, AuditEvent, Checkin, Invite, OutboxMessage, Patient
from tests.e2e.conftest import GROUP_A, GROUP_B
from tests.e2e.flows import CALM_DAY, answer_all, enrol, last
from tests.support.harness import Harness

NAMES = ("Alice", "Bruno", "Carla", "Nurse", "Doctor", "Ola")


def _assert_labels_only(h: Harness, *groups: int) -> None:
    """No Telegram first name ever appears in a provider group's messages."""
    for chat_id in groups:
        for message in h.server.group(chat_id).messages:
            for name in NAMES:
                assert name not in message.text, (name, message.text)


async def _patient(h: Harness, label: str) -> Patient:
    patient = await h.scalar(select(Patient).where(Patient.label == label))
    assert patient is not None
    return patient


async def _audits(h: Harness, action: str) -> list[AuditEvent]:
    return await h.rows(
        select(AuditEvent).where(AuditEvent.action == action).order_by(AuditEvent.id)
    )


def _nurse(h: Harness, group: int = GROUP_A) -> Any:
    return h.server.group(group).member(9001, first_name="Nurse", status="administrator")


async def test_invite_link_enrols_the_patient(harness: Harness) -> None:
    h = harness
    nurse = _nurse(h)
    await h.send(nurse, "/invite P-NEW1")
    text = last(nurse).text
    assert "P-NEW1" in text and "https://t.me/moodcheck_test_bot?start=" in text
    code = text.split("?start=", 1)[1].split()[0]
    invite = await h.scalar(select(Invite).where(Invite.label == "P-NEW1"))
    assert invite is not None and invite.created_by == "provider:9001"
    alice = h.server.user(5001, first_name="Alice")
    await h.send(alice, f"/start {code}")
    await h.press(alice, "I agree")
    assert (await _patient(h, "P-NEW1")).telegram_user_id == 5001
    # Taken now; bad labels and missing labels get a clear reply and no invite.
    for text, needle in [
        ("/invite P-NEW1", "already enrolled"),
        ("/invite bad label", "Usage"),
        ("/invite alice", "not a valid label"),
        ("/invite", "Usage"),
    ]:
        await h.send(nurse, text)
        assert needle in last(nurse).text, text
    assert await h.count(Invite) == 1
    refused = await _audits(h, "provider_command_refused")
    assert [e.details["reason"] for e in refused] == [
        "label_taken",
        "bad_arguments",
        "bad_label",
        "bad_arguments",
    ]
    assert all(e.actor == "provider:9001" for e in refused)
    _assert_labels_only(h, GROUP_A)


async def test_refused_in_private_and_in_other_groups(harness: Harness) -> None:
    h = harness
    bruno = h.server.user(5002, first_name="Bruno")
    patient = await enrol(h, bruno, "P-REF1")
    stranger_group = h.server.group(-100999, title="Not a clinic").member(9002, "Doctor")
    private = h.server.user(9003, first_name="Doctor")
    before = await h.count(Invite)
    for who in (private, stranger_group):
        for command in ("/invite P-XXX1", "/patients", "/discharge P-REF1", "/export"):
            # Someone not enrolled is answered 3 times a minute (bot.domain.throttle).
            h.clock.advance(timedelta(seconds=21))
            await h.send(who, command)
            assert "only in a clinic's provider group" in last(who).text, command
    # In private chats /pause, /resume and /help stay patient commands.
    h.clock.advance(timedelta(seconds=21))
    await h.send(private, "/help")
    assert "/checkin" in last(private).text
    await h.send(stranger_group, "/pause P-REF1 3")
    assert "only in a clinic's provider group" in last(stranger_group).text
    assert await h.count(Invite) == before
    after = await _patient(h, "P-REF1")
    assert (after.status, after.next_prompt_at) == ("active", patient.next_prompt_at)
    assert await h.count(OutboxMessage, OutboxMessage.method == "sendDocument") == 0
    refused = await _audits(h, "provider_command_refused")
    assert [(e.details["command"], e.details["chat_type"]) for e in refused] == [
        ("invite", "private"),
        ("patients", "private"),
        ("discharge", "private"),
        ("export", "private"),
        ("invite", "group"),
        ("patients", "group"),
        ("discharge", "group"),
        ("export", "group"),
        ("pause", "group"),
    ]
    # A private chat id is a person's Telegram id: it is not kept; a group's is.
    assert {e.details["chat_id"] for e in refused[:4]} == {None}
    assert {e.details["chat_id"] for e in refused[4:]} == {-100999}


async def test_a_provider_acts_on_their_own_cohort_only(harness: Harness) -> None:
    h = harness
    carla = h.server.user(5003, first_name="Carla")
    await enrol(h, carla, "P-AAA1", cohort="clinic-a")
    carla_before = len(carla.messages)
    other = _nurse(h, GROUP_B)
    for command in ("/patient P-AAA1", "/pause P-AAA1 3", "/resume P-AAA1", "/discharge P-AAA1"):
        await h.send(other, command)
        assert "no patient <code>P-AAA1</code>" in last(other).html, command
    await h.send(other, "/patients")
    assert "P-AAA1" not in last(other).text
    await h.send(other, "/export")
    document = last(other)
    assert document.kind == "document" and document.document is not None
    assert "P-AAA1" not in document.document.decode()
    patient = await _patient(h, "P-AAA1")
    assert patient.status == "active"
    refused = await _audits(h, "provider_command_refused")
    assert [e.details["reason"] for e in refused] == ["unknown_label"] * 4
    assert all(e.details["chat_id"] == GROUP_B for e in refused)
    assert h.server.group(GROUP_A).messages == []
    assert len(carla.messages) == carla_before  # nothing reached Carla
    _assert_labels_only(h, GROUP_A, GROUP_B)


async def test_pause_resume_discharge(harness: Harness) -> None:
    h = harness
    ola = h.server.user(5004, first_name="Ola")
    await enrol(h, ola, "P-PRD1")
    nurse = _nurse(h)
    for command in ("/pause", "/pause P-PRD1", "/pause P-PRD1 0", "/pause P-PRD1 999"):
        await h.send(nurse, command)
        assert "Usage" in last(nurse).text, command
    await h.send(nurse, "/pause P-PRD1 ten")
    assert "1 to 60" in last(nurse).text
    await h.send(nurse, "/pause P-NONE 3")
    assert "no patient" in last(nurse).text
    await h.send(nurse, "/resume P-PRD1")
    assert "is active, so /resume does not apply" in last(nurse).text
    assert (await _patient(h, "P-PRD1")).status == "active"

    await h.send(nurse, "/pause P-PRD1 5")
    assert "paused until 2026-01-17 08:00" in last(nurse).text
    assert "paused your check-ins until" in last(ola).text
    patient = await _patient(h, "P-PRD1")
    assert (patient.status, patient.next_prompt_at) == ("paused", None)
    assert patient.paused_until == h.clock.now() + timedelta(days=5)
    await h.advance(timedelta(days=1))
    await h.due_scan()
    assert await h.count(Checkin) == 0

    await h.send(nurse, "/resume P-PRD1")
    assert "resumed" in last(nurse).text
    assert "turned your check-ins back on" in last(ola).text
    patient = await _patient(h, "P-PRD1")
    assert patient.status == "active" and patient.next_prompt_at is not None

    await h.send(nurse, "/discharge P-PRD1")
    assert "discharged" in last(nurse).text and "has been told" in last(nurse).text
    assert "ended your daily check-ins" in last(ola).text
    patient = await _patient(h, "P-PRD1")
    assert (patient.status, patient.next_prompt_at) == ("discharged", None)
    assert patient.discharged_at == h.clock.now()
    await h.send(nurse, "/discharge P-PRD1")
    assert "is discharged" in last(nurse).text
    await h.send(nurse, "/pause P-PRD1 3")
    assert "is discharged" in last(nurse).text
    # No more prompts; what the patient writes is neither stored nor passed on.
    await h.advance(timedelta(days=2))
    await h.due_scan()
    assert await h.count(Checkin) == 0
    group_before = len(h.server.group(GROUP_A).messages)
    await h.send(ola, "hello, anyone?")
    assert "stopped taking part" in last(ola).text
    assert len(h.server.group(GROUP_A).messages) == group_before
    actions = [
        (e.action, e.actor, e.details.get("days"))
        for e in await h.rows(select(AuditEvent).order_by(AuditEvent.id))
        if e.action.startswith("provider_") and e.action != "provider_command_refused"
    ]
    assert actions == [
        ("provider_paused", "provider:9001", 5),
        ("provider_resumed", "provider:9001", None),
        ("provider_discharged", "provider:9001", None),
    ]
    _assert_labels_only(h, GROUP_A)


async def _day(h: Harness, patient_id: int, day: date, status: str, **answers: str) -> None:
    """Write a past check-in straight into the database (as the scans would have)."""
    now = h.clock.now()
    async with h._sessions() as session:
        checkin = Checkin(
            patient_id=patient_id,
            local_date=day,
            timezone="America/New_York",
            questionnaire="daily",
            status=status,
            item=None,
            opened_at=now,
            closes_at=now,
            completed_at=now,
            version=0,
        )
        session.add(checkin)
        await session.flush()
        for item, value in answers.items():
            session.add(Answer(checkin_id=checkin.id, item_id=item, value=value, answered_at=now))
        await session.commit()


async def test_patients_patient_alerts_and_export(harness: Harness) -> None:
    h = harness
    alice = h.server.user(5005, first_name="Alice")
    bruno = h.server.user(5006, first_name="Bruno")
    a = await enrol(h, alice, "P-ADH1")
    b = await enrol(h, bruno, "P-ADH2")
    today = date(2026, 1, 12)  # the clock's local date in New York
    # P-ADH1, last 7 local days (01-06 .. 01-12): 3 completed (one today), 1 partial,
    # 1 stopped, 1 missed, 1 skipped = 5 done of 7 due. 01-05 is outside the window.
    await _day(h, a.id, today - timedelta(days=7), "completed", mood="1")
    await _day(h, a.id, today - timedelta(days=6), "completed", mood="6", anxiety="2")
    await _day(h, a.id, today - timedelta(days=5), "missed")
    await _day(h, a.id, today - timedelta(days=4), "partial", mood="4")
    await _day(h, a.id, today - timedelta(days=3), "skipped")
    await _day(h, a.id, today - timedelta(days=2), "stopped", mood="2", safety="yes")
    await _day(h, a.id, today - timedelta(days=1), "completed", mood="5", dose="more")
    # Today's check-in, completed through the bot: counts once done.
    await h.send(alice, "/checkin")
    await answer_all(h, alice, CALM_DAY)
    # P-ADH2: one missed day, today still open (counts neither way).
    await _day(h, b.id, today - timedelta(days=1), "missed")
    await h.send(bruno, "/checkin")
    await h.press(bruno, "9")
    # Two alerts for P-ADH1 (one acknowledged, still unresolved), one resolved for P-ADH2.
    async with h._sessions() as session:
        for patient, rule, status, hours in [
            (a, "safety_thoughts", "open", 30),
            (a, "took_more_than_prescribed", "acknowledged", 2),
            (b, "severe_side_effect", "resolved", 5),
        ]:
            session.add(
                Alert(
                    cohort_id=patient.cohort_id,
                    patient_id=patient.id,
                    rule=rule,
                    tier="URGENT",
                    status=status,
                    dedup_key=f"{rule}:test:{patient.id}",
                    created_at=h.clock.now() - timedelta(hours=hours),
                    details=DETAILS[rule],
                )
            )
        await session.commit()

    nurse = _nurse(h)
    await h.send(nurse, "/patients")
    lines = last(nurse).text.splitlines()
    adh1 = next(line for line in lines if line.startswith("P-ADH1"))
    adh2 = next(line for line in lines if line.startswith("P-ADH2"))
    assert "active · 7d 5/7 (71%) · last 2026-01-12 · alerts 2" in adh1
    assert "active · 7d 0/1 (0%) · last never · alerts 0" in adh2

    await h.send(nurse, "/patient P-ADH1")
    text = last(nurse).text
    rows = text.split("date  mood", 1)[1].splitlines()[1:15]
    assert rows[0].split() == ["01-12", "7", "3", "4", "4", "ok", "0", "no"]
    assert rows[1].split() == ["01-11", "5", "·", "·", "·", "MORE", "·", "·"]
    assert rows[2].split() == ["01-10", "2", "·", "·", "·", "·", "·", "YES"]
    assert rows[3] == "01-09 skipped"
    assert rows[5] == "01-07 missed"
    assert rows[7].split()[:3] == ["01-05", "1", "·"]
    # Nothing before the patient's first day (enrolled today here, with days written back
    # to 01-05): no "no check-in" rows for days the patient was not yet followed.
    assert not rows[8].startswith("01-04") and "no check-in" not in text.split("mood, anx")[0]
    assert "<pre>" in last(nurse).html
    # Display names from the rule files and the answer that fired each alert; never an id.
    assert (
        "Safety question answered yes (thoughts of death, suicide or self-harm)"
        " (safety question: Yes) · 1d 6h"
    ) in text
    assert (
        "Took more than the prescribed dose (dose: Took more than prescribed) · 2h 0m"
        " · acknowledged"
    ) in text
    assert "safety_thoughts" not in text and "took_more_than_prescribed" not in text

    await h.send(nurse, "/alerts")
    alert_lines = [line for line in last(nurse).text.splitlines() if "P-ADH" in line]
    assert [line.split(" · ")[2] for line in alert_lines] == [
        "Safety question answered yes (thoughts of death, suicide or self-harm)"
        " (safety question: Yes)",
        "Took more than the prescribed dose (dose: Took more than prescribed)",
    ]  # oldest first; the resolved one is not listed

    await _check_export(h, nurse)
    views = {e.action for e in await h.rows(select(AuditEvent))}
    assert {
        "provider_listed_patients",
        "provider_viewed_patient",
        "provider_listed_alerts",
        "provider_exported",
    } <= views
    _assert_labels_only(h, GROUP_A)


DETAILS = {
    "safety_thoughts": {"kind": "answer", "item": "safety", "value": "yes"},
    "took_more_than_prescribed": {"kind": "answer", "item": "dose", "value": "more"},
    "severe_side_effect": {"kind": "answer", "item": "bother", "value": "severe"},
}


async def _check_export(h: Harness, nurse: Any) -> None:
    """/export: a tidy CSV with every answer (one row per ticked option) and every missed or
    skipped day, as stored, and its data dictionary."""
    await h.send(nurse, "/export")
    documents = {m.filename: m for m in h.server.group(GROUP_A).messages if m.kind == "document"}
    document = documents["moodcheck-clinic-a-2026-01-12.csv"]
    assert document.document is not None
    table = list(csv.reader(io.StringIO(document.document.decode())))
    assert table[0] == [
        "label",
        "local_date",
        "timezone",
        "checkin_status",
        "item",
        "value",
        "value_number",
    ]
    expected = sorted(
        (label, day.isoformat(), zone, status, item, one, one if one.isdigit() else "")
        for label, day, zone, status, item, value in await h.rows(
            select(
                Patient.label,
                Checkin.local_date,
                Checkin.timezone,
                Checkin.status,
                Answer.item_id,
                Answer.value,
            )
            .join(Patient, Patient.id == Checkin.patient_id)
            .join(Answer, Answer.checkin_id == Checkin.id)
        )
        for one in (value.split(",") if item == "side_effects" else [value])
    )
    empty = sorted(
        (label, day.isoformat(), zone, status, "", "", "")
        for label, day, zone, status in await h.rows(
            select(Patient.label, Checkin.local_date, Checkin.timezone, Checkin.status)
            .join(Patient, Patient.id == Checkin.patient_id)
            .where(Checkin.status.in_(["missed", "skipped"]))
        )
    )
    assert sorted(tuple(row) for row in table[1:]) == sorted(expected + empty)
    assert ("P-ADH2", "2026-01-12", "America/New_York", "open", "mood", "9", "9") in {
        tuple(row) for row in table[1:]
    }
    assert len(table) - 1 == len(expected) + 3  # + missed, skipped, missed
    dictionary = documents["moodcheck-clinic-a-2026-01-12-dictionary.csv"].document
    assert dictionary is not None
    names = {row[0] for row in csv.reader(io.StringIO(dictionary.decode()))}
    assert {"value_number", "mood", "safety", "side_effects"} <= names


async def test_long_patient_list_is_split_between_lines(harness: Harness) -> None:
    h = harness
    cohort_id = (await enrol(h, h.server.user(5007, first_name="Alice"), "P-0000")).cohort_id
    now = h.clock.now()
    async with h._sessions() as session:
        for n in range(1, 120):
            session.add(
                Patient(
                    cohort_id=cohort_id,
                    label=f"P-{n:04d}",
                    telegram_user_id=700000 + n,
                    chat_id=700000 + n,
                    status="active",
                    locale="en",
                    timezone="America/New_York",
                    checkin_time="09:00",
                    consented_at=now,
                    created_at=now,
                    updated_at=now,
                )
            )
        await session.commit()
    nurse = _nurse(h)
    await h.send(nurse, "/patients")
    parts = [m for m in h.server.group(GROUP_A).messages if m.kind == "text"]
    assert len(parts) >= 2
    assert all(len(m.html) < 4096 for m in parts)
    listed = [line.split(maxsplit=1)[0] for m in parts for line in m.text.splitlines() if line]
    labels = [label for label in listed if label.startswith("P-")]
    assert labels == [f"P-{n:04d}" for n in range(120)]  # every patient once, in order


async def test_help_and_group_command_menu(harness: Harness) -> None:
    h = harness
    nurse = _nurse(h)
    await h.send(nurse, "/help")
    assert "/discharge LABEL" in last(nurse).text and "/checkin" not in last(nurse).text
    await h.send(nurse, "/help@moodcheck_test_bot")
    assert "/export" in last(nurse).text
    menus = {
        (scope, lang): {c["command"] for c in commands}
        for (scope, lang), commands in h.server.state.commands.items()
        if "all_group_chats" in scope
    }
    expected = {
        "invite",
        "patients",
        "patient",
        "messages",
        "alerts",
        "pause",
        "resume",
        "discharge",
        "export",
        "digest",
        "outcomes",
        "oncall",
        "dosing",
        "course",
        "optional",
        "help",
    }
    assert sorted(lang for _, lang in menus) == ["", "es"]
    assert all(names == expected for names in menus.values())


async def test_replayed_command_changes_nothing(harness: Harness) -> None:
    h = harness
    await enrol(h, h.server.user(5008, first_name="Alice"), "P-RPL1")
    nurse = _nurse(h)
    await h.send(nurse, "/pause P-RPL1 2")
    update_id = h.update_ids[-1]
    # The same update handled again (a redelivery): the claim refuses it.
    await h.runtime.services.provider.command(
        ProviderCall(update_id, GROUP_A, "group", 9001, "en", "pause", ("P-RPL1", "7"), "b")
    )
    patient = await _patient(h, "P-RPL1")
    assert patient.paused_until == h.clock.now() + timedelta(days=2)
    assert len(await _audits(h, "provider_paused")) == 1


async def test_digest_on_demand_in_the_group_only(harness: Harness) -> None:
    h = harness
    user = h.server.user(9301, first_name="Dee")
    await enrol(h, user, "P-9301")
    nurse = _nurse(h)
    await h.send(nurse, "/digest")
    group = h.server.group(GROUP_A).messages
    kinds = [m.kind for m in group]
    assert "Weekly digest" in group[0].text and "photo" in kinds
    names = sorted(m.filename or "" for m in group if m.kind == "document")
    assert len(names) == 2 and names[0].endswith(".csv") and names[1].endswith(".html")
    assert all("Dee" not in (m.text or "") for m in group)
    before = len(group)
    await h.send(user, "/digest")  # a patient in a private chat: refused, nothing sent
    assert len(h.server.group(GROUP_A).messages) == before
    refused = await h.rows(
        select(AuditEvent).where(AuditEvent.action == "provider_command_refused")
    )
    assert refused and refused[-1].details["command"] == "digest"


async def test_alerts_tells_the_team_what_could_not_be_delivered(
    server: FakeBotApi, db_url: str, config: AppConfig, clock: ManualClock
) -> None:
    # One attempt only: the first 5xx makes a dead letter (the backoff has its own tests).
    h = Harness(server, db_url, config, clock, delivery=DeliveryPolicy(poll_interval=0.2))
    server.group(GROUP_A, title="Clinic A providers")
    server.group(GROUP_B, title="Clinic B providers")
    await h.start_bot()
    try:
        nurse_a = _nurse(h)
        nurse_b = _nurse(h, GROUP_B)
        alice = server.user(9102, first_name="Alice")
        await enrol(h, alice, "P-DEAD")
        await h.send(nurse_a, "/alerts")
        assert "Not delivered" not in last(server.group(GROUP_A)).text
        await h.close()
        h = Harness(
            server,
            db_url,
            config,
            clock,
            delivery=DeliveryPolicy(poll_interval=0.2, max_attempts=1),
        )
        await h.start_bot()
        server.faults.fail_next(method="sendMessage", status=502, chat_id=alice.chat_id)
        await h.send(alice, "/help")
        await h.send(nurse_a, "/alerts")
        text = last(server.group(GROUP_A)).text
        assert "0 message(s) to this group, 1 to patients" in text
        # Another cohort's group is not told about clinic A's patients.
        await h.send(nurse_b, "/alerts")
        assert "Not delivered" not in last(server.group(GROUP_B)).text
    finally:
        await h.close()
