"""Ketamine protocol awareness, end to end (issue 19, items 1-3): the dosing schedule and the
post-dose check across a DST change, a post-dose red flag, typed home blood pressure with
both thresholds and bad input, a new treatment course restarting the baseline, optional items
after the daily check-in, and the digest's line about unanswered post-dose checks.

Everything goes through the sandbox (provider commands in the group, taps and typed text in
the patient's chat) and the bot's own scans on the ManualClock.
"""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import select

from bot.domain.alerts import Tier
from storage.models import Alert, AuditEvent, OutboxMessage, Patient, SideCheck
from tests.e2e.conftest import GROUP_A
from tests.e2e.flows import CALM_DAY, answer_all, enrol, last
from tests.e2e.scenario_support import (
    CLINIC_A,
    Card,
    Day,
    card_heading,
    daily,
    drain,
    run_step,
    shows_tier,
)
from tests.support.harness import Harness

RED_FLAG_ITEMS = ("Chest pain", "Done")


def _nurse(h: Harness) -> Any:
    return h.server.group(GROUP_A).member(9001, first_name="Nurse", status="administrator")


async def _patient(h: Harness, label: str) -> Patient:
    patient = await h.scalar(select(Patient).where(Patient.label == label))
    assert patient is not None
    return patient


async def _checks(h: Harness, patient: Patient) -> list[SideCheck]:
    return await h.rows(
        select(SideCheck).where(SideCheck.patient_id == patient.id).order_by(SideCheck.id)
    )


async def _alerts(h: Harness, patient: Patient) -> list[Alert]:
    return await h.rows(select(Alert).where(Alert.patient_id == patient.id).order_by(Alert.id))


async def _side_scan(h: Harness, at: datetime) -> None:
    h.clock.set(at)
    await h.runtime.services.side_check_scan.run()
    await drain(h)


def _local(day: str, clock: str) -> datetime:
    """An instant given as New York local date and time (clinic-a's zone)."""
    return datetime.fromisoformat(f"{day}T{clock}").replace(tzinfo=CLINIC_A.zone)


async def test_dosing_commands_answer_clearly_and_show_in_patient(harness: Harness) -> None:
    h = harness
    user = h.server.user(7101, first_name="Dee")
    await enrol(h, user, "P-D0S1")
    nurse = _nurse(h)
    for command, words in (
        ("/dosing P-D0S1", "Usage"),
        ("/dosing P-D0S1 monday 19:00", "Dose days are mon, tue"),
        ("/dosing P-D0S1 mon,mon 19:00", "named twice"),
        ("/dosing P-D0S1 mon,thu 7pm", "HH:MM"),
        ("/dosing P-NONE mon 19:00", "no patient"),
        ("/course P-D0S1 begin", "Usage"),
        ("/optional P-D0S1 bp maybe", "Name one optional item"),
    ):
        await h.send(nurse, command)
        assert words in last(nurse).text, command
        assert "Nothing was changed" in last(nurse).text or words == "no patient"
        assert "<code>" not in last(nurse).text  # markup rendered, never shown as text
    patient = await _patient(h, "P-D0S1")
    assert (patient.dosing_days, patient.dosing_time, patient.optional_items) == (None,) * 3

    await h.send(nurse, "/dosing P-D0S1 thu,MON 19:00")
    assert "Mon, Thu at 19:00 (the patient's time, America/New_York)" in last(nurse).text
    await h.send(nurse, "/optional P-D0S1 bp on")
    assert "home blood pressure" in last(nurse).text
    await h.send(nurse, "/patient P-D0S1")
    shown = last(nurse).text
    assert "Dosing: Mon, Thu at 19:00 (patient's time)" in shown
    assert "course since 2026-01-12 (enrolment)" in shown
    assert "optional: home BP" in shown
    await h.send(nurse, "/dosing P-D0S1 off")
    assert "removed" in last(nurse).text
    patient = await _patient(h, "P-D0S1")
    assert (patient.dosing_days, patient.dosing_time) == (None, None)
    actions = [
        e.action
        for e in await h.rows(select(AuditEvent).where(AuditEvent.patient_id == patient.id))
    ]
    assert actions.count("dosing_schedule_set") == 1
    assert actions.count("dosing_schedule_cleared") == 1
    assert actions.count("optional_items_set") == 1
    assert actions.count("provider_command_refused") == 6


async def test_post_dose_check_follows_the_wall_clock_across_dst(harness: Harness) -> None:
    h = harness
    user = h.server.user(7102, first_name="Sam")
    await enrol(h, user, "P-D0S2")
    await h.send(_nurse(h), "/dosing P-D0S2 sun 19:00")
    patient = await _patient(h, "P-D0S2")
    # 19:00 + the default 3 h: 22:00 local, EST (UTC-5) on 1 March, EDT (UTC-4) on 8 March.
    for day, utc_hour in (("2026-03-01", 3), ("2026-03-08", 2)):
        opens = _local(day, "22:00")
        assert opens.astimezone(UTC).hour == utc_hour
        await _side_scan(h, opens - timedelta(seconds=30))
        assert [c.local_date.isoformat() for c in await _checks(h, patient)].count(day) == 0
        await _side_scan(h, opens + timedelta(seconds=30))
        [check] = [c for c in await _checks(h, patient) if c.local_date.isoformat() == day]
        assert (check.kind, check.status) == ("post_dose", "open")
        assert "After-dose check" in last(user).text
        await h.press(user, "None")  # still feeling anything: no
        await h.press(user, "None")  # red flags: none
        assert "Your answers have been saved for your care team" in last(user).text
    checks = await _checks(h, patient)
    assert [(c.status, c.answers) for c in checks] == [
        ("answered", {"pd_effects": "none", "pd_red_flags": "none"})
    ] * 2
    assert await _alerts(h, patient) == []
    assert h.server.group(GROUP_A).messages[-1].text.startswith("Dosing schedule")


async def test_a_post_dose_red_flag_is_immediate_with_the_emergency_card(
    harness: Harness,
) -> None:
    h = harness
    user = h.server.user(7103, first_name="Ria")
    await enrol(h, user, "P-D0S3")
    await h.send(_nurse(h), "/dosing P-D0S3 mon 19:00")
    patient = await _patient(h, "P-D0S3")
    # Monday 2026-01-19 (a week after enrolment), 22:01 in New York.
    await _side_scan(h, _local("2026-01-19", "22:01"))
    await h.press(user, "Nausea or vomiting")
    await h.press(user, "Done")
    await h.press(user, "Moderate")
    before = len(user.messages)
    await h.press(user, "Chest pain")
    await h.press(user, "Sudden severe headache")
    await h.press(user, "Done")
    await drain(h)
    [alert] = await _alerts(h, patient)
    assert (alert.rule, alert.tier) == ("post_dose_red_flag", "IMMEDIATE")
    assert alert.details == {
        "kind": "answer",
        "item": "pd_red_flags",
        "value": "chest_pain,headache",
    }
    heading = card_heading(h, Card.EMERGENCY, CLINIC_A)
    assert any(heading in m.text for m in user.messages[before:])
    group = [m.text for m in h.server.group(GROUP_A).messages if "P-D0S3" in m.text]
    assert any(shows_tier(text, Tier.IMMEDIATE) for text in group), group
    assert any("Chest pain, Sudden severe headache" in text for text in group), group
    # No further questions, and the patient is told the team knows (it does).
    [check] = await _checks(h, patient)
    assert check.status == "stopped"
    [asked] = [m for m in user.messages if "After-dose check" in m.text]
    assert "your care team has been notified" in asked.text
    assert asked.buttons == []
    assert "Ria" not in " ".join(group)


async def test_home_blood_pressure_both_thresholds_and_bad_input(harness: Harness) -> None:
    h = harness
    user = h.server.user(7104, first_name="Bo")
    await enrol(h, user, "P-D0S4")
    await h.send(_nurse(h), "/optional P-D0S4 bp on")
    patient = await _patient(h, "P-D0S4")
    group_seen = len(h.server.group(GROUP_A).messages)

    async def day_with_reading(day: int, *typed: str) -> None:
        await run_step(h, CLINIC_A, user, Day(day, daily()))
        await _side_scan(h, CLINIC_A.at(day, "10:30"))
        assert "blood pressure" in last(user).text
        for text in typed:
            await h.send(user, text)
            await drain(h)

    # Not a reading: a clear answer, nothing stored, the question stays open.
    await day_with_reading(0, "12 something", "1450/92", "128 84")
    refusals = [m.text for m in user.messages if "could not read that" in m.text]
    assert len(refusals) == 2
    checks = await _checks(h, patient)
    assert [(c.kind, c.status, c.answers) for c in checks] == [
        ("optional", "answered", {"bp": "128/84"})
    ]
    assert await _alerts(h, patient) == []

    await day_with_reading(1, "145 92")
    [urgent] = await _alerts(h, patient)
    assert (urgent.rule, urgent.tier) == ("home_bp_high", "URGENT")
    assert urgent.details == {"kind": "answer", "item": "bp", "value": "145/92"}
    heading = card_heading(h, Card.EMERGENCY, CLINIC_A)
    assert not any(heading in m.text for m in user.messages)

    before = len(user.messages)
    await day_with_reading(2, "182/95")
    crisis = [a for a in await _alerts(h, patient) if a.id > urgent.id]
    assert {(a.rule, a.tier) for a in crisis} == {
        ("home_bp_crisis", "IMMEDIATE"),
        ("home_bp_high", "URGENT"),
    }
    assert any(heading in m.text for m in user.messages[before:])
    group = [m.text for m in h.server.group(GROUP_A).messages[group_seen:]]
    assert any(shows_tier(t, Tier.URGENT) and "145/92" in t for t in group), group
    assert any(shows_tier(t, Tier.IMMEDIATE) and "182/95" in t for t in group), group


async def test_a_new_course_restarts_the_baseline(harness: Harness) -> None:
    h = harness
    user = h.server.user(7105, first_name="Cy")
    await enrol(h, user, "P-D0S5")
    patient = await _patient(h, "P-D0S5")
    for day in range(7):  # a baseline of mood 7
        await run_step(h, CLINIC_A, user, Day(day, daily()), telegram=False)
    h.clock.set(CLINIC_A.at(7, "08:00"))
    await h.send(_nurse(h), "/course P-D0S5 start")
    assert "New treatment course for P-D0S5 from 2026-01-19" in last(_nurse(h)).text
    # A drop of 3 from the old baseline would fire mood_single_day_drop; the new course has
    # no baseline yet (docs/clinical.md §3.4: the first 7 check-ins of the course).
    await run_step(h, CLINIC_A, user, Day(7, daily(mood=4)))
    assert await _alerts(h, patient) == []
    [event] = await h.rows(
        select(AuditEvent).where(
            AuditEvent.patient_id == patient.id, AuditEvent.action == "course_started"
        )
    )
    assert event.details["started_on"] == "2026-01-19"
    await h.send(_nurse(h), "/patient P-D0S5")
    assert "course since 2026-01-19 ·" in last(_nurse(h)).text


async def test_substance_and_bladder_items_follow_the_daily_check_in(harness: Harness) -> None:
    h = harness
    user = h.server.user(7106, first_name="Al")
    await enrol(h, user, "P-D0S6")
    nurse = _nurse(h)
    await h.send(nurse, "/optional P-D0S6 substance on")
    await h.send(nurse, "/optional P-D0S6 bladder on")
    patient = await _patient(h, "P-D0S6")
    # Tuesday: neither weekly item is due; nothing is asked.
    await run_step(h, CLINIC_A, user, Day(1, daily()))
    await _side_scan(h, CLINIC_A.at(1, "11:00"))
    assert await _checks(h, patient) == []
    # Monday 2 February: the weekly substance item and the monthly bladder screen. Not before
    # the daily check-in is completed.
    await _side_scan(h, CLINIC_A.at(21, "09:30"))
    assert await _checks(h, patient) == []
    h.clock.set(CLINIC_A.at(21, "10:00"))
    await h.send(user, "/checkin")
    await answer_all(h, user, CALM_DAY)
    await _side_scan(h, CLINIC_A.at(21, "10:05"))
    await h.press(user, "Alcohol")
    await h.press(user, "Ketamine that was not prescribed to you")
    await h.press(user, "Done")
    assert "In the past month" in last(user).text
    await h.press(user, "Waking at night to urinate")
    await h.press(user, "Done")
    [check] = await _checks(h, patient)
    assert (check.status, check.answers) == (
        "answered",
        {"substance": "alcohol,ketamine_np", "bladder": "night"},
    )
    # No threshold for substance use or night-time urination alone (docs/clinical.md §1.2, §6).
    assert await _alerts(h, patient) == []
    # The patient's copy of their data holds these answers too.
    await h.send(user, "/mydata")
    # The payload is encrypted at rest (storage/crypto.py): the filename is read in Python.
    documents = await h.rows(select(OutboxMessage).where(OutboxMessage.method == "sendDocument"))
    [row] = [r for r in documents if r.payload.get("filename") == "moodcheck-P-D0S6.json"]
    document = json.loads(base64.b64decode(row.payload["document_base64"]))
    assert check.completed_at is not None
    assert document["other_checks"] == [
        {
            "kind": "optional",
            "local_date": "2026-02-02",
            "status": "answered",
            "answers": {"substance": "alcohol,ketamine_np", "bladder": "night"},
            "completed_at": check.completed_at.isoformat(),
        }
    ]


async def test_an_unanswered_post_dose_check_is_in_the_digest(harness: Harness) -> None:
    h = harness
    user = h.server.user(7107, first_name="Ed")
    await enrol(h, user, "P-D0S7")
    await h.send(_nurse(h), "/dosing P-D0S7 tue 19:00")
    patient = await _patient(h, "P-D0S7")
    await _side_scan(h, _local("2026-01-13", "22:00"))
    await _side_scan(h, _local("2026-01-14", "02:00"))  # the 4-hour window has ended
    [check] = await _checks(h, patient)
    assert (check.local_date.isoformat(), check.status) == ("2026-01-13", "missed")
    h.clock.set(_local("2026-01-14", "09:00"))
    # What /digest calls (the chart's rendering can outlast the harness's settle on a busy
    # machine, so the digest is asked of the service, as tests/e2e/test_digest.py does).
    assert (await h.runtime.services.digest.send_now("clinic-a")).value == "queued"
    await drain(h)
    texts = [m.text for m in h.server.group(GROUP_A).messages if m.text]
    assert any("After-dose checks not answered: P-D0S7 (1)" in t for t in texts), texts[-3:]
