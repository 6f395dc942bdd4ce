"""Truthful routing (issue 12, item 4): the team can read what the patient was told it would.

/messages LABEL shows a patient's recent messages and notes (audited: who, when, which
patient); the group notice says a message is waiting and how to read it when the cohort does
not share text; the patient's reply says what happens, with sharing on and off.
"""

from __future__ import annotations

import dataclasses
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from bot.config import AppConfig, load_config
from storage.models import AuditEvent, Patient, PatientMessage
from tests.e2e.conftest import GROUP_A, GROUP_B
from tests.e2e.flows import enrol, last
from tests.support.harness import Harness

NOT_SHARED = "group chat is told that you wrote, and they can open your message there"
SHARED = "Your message is posted in your care team's group chat"


@pytest.fixture(name="config")
def fx_config_sharing(config_path: Path) -> AppConfig:
    """The test cohorts, with clinic-b sharing patients' text with its group."""
    config = load_config(config_path)
    cohorts = tuple(
        c.model_copy(update={"share_text_with_group": True}) if c.name == "clinic-b" else c
        for c in config.cohorts
    )
    return dataclasses.replace(config, cohorts=cohorts)


def _nurse(h: Harness, group: int = GROUP_A) -> Any:
    return h.server.group(group).member(9301, first_name="Nurse", status="administrator")


async def test_without_sharing_the_group_is_told_how_to_read_and_reading_is_audited(
    harness: Harness,
) -> None:
    h = harness
    ivy = h.server.user(6101, first_name="Ivy", username="ivy_real")
    await enrol(h, ivy, "P-MSG1")
    await h.send(ivy, "The new dose makes me dizzy in the mornings")
    assert NOT_SHARED in last(ivy).text
    assert SHARED not in last(ivy).text
    notice = h.server.group(GROUP_A).messages[-1].text
    assert "P-MSG1 sent a message" in notice and "/messages P-MSG1" in notice
    assert "dizzy" not in notice and "Ivy" not in notice

    await h.advance(timedelta(hours=2))
    await h.send(ivy, "Also: can we talk about sleep?")
    nurse = _nurse(h)
    await h.send(nurse, "/messages P-MSG1")
    shown = last(nurse).text
    assert "Messages from P-MSG1" in shown
    # Newest first, each with its date and time (the cohort's zone).
    assert shown.index("talk about sleep") < shown.index("dizzy in the mornings")
    assert "2026-01-12 10:00 · message" in shown and "2026-01-12 08:00 · message" in shown
    assert "Ivy" not in shown

    [read] = await h.rows(select(AuditEvent).where(AuditEvent.action == "provider_read_messages"))
    patient = await h.scalar(select(Patient).where(Patient.label == "P-MSG1"))
    assert patient is not None
    assert read.actor == "provider:9301" and read.patient_id == patient.id
    assert read.at == h.clock.now()
    assert read.details["shown"] == 2 and read.details["chat_id"] == GROUP_A


async def test_with_sharing_the_group_sees_the_text_and_the_patient_is_told_so(
    harness: Harness,
) -> None:
    h = harness
    bo = h.server.user(6102, first_name="Bo")
    await enrol(h, bo, "P-MSG2", cohort="clinic-b")
    await h.send(bo, "Running late for Thursday's visit")
    assert SHARED in last(bo).text and NOT_SHARED not in last(bo).text
    notice = h.server.group(GROUP_B).messages[-1].text
    assert "P-MSG2 sent a message" in notice and "Running late for Thursday's visit" in notice
    assert "/messages" not in notice


async def test_unknown_labels_and_other_cohorts_patients_are_refused_and_audited(
    harness: Harness,
) -> None:
    h = harness
    bo = h.server.user(6103, first_name="Bo")
    await enrol(h, bo, "P-MSG3", cohort="clinic-b")
    await h.send(bo, "hello from clinic b")
    nurse = _nurse(h)
    for label in ("P-NOPE", "P-MSG3"):  # unknown; a patient of another cohort
        await h.send(nurse, f"/messages {label}")
        assert f"There is no patient {label} in this cohort" in last(nurse).text
        assert "hello from clinic b" not in last(nurse).text
    await h.send(nurse, "/messages")
    assert "Usage: /messages P-7Q3K" in last(nurse).text
    refused = await h.rows(
        select(AuditEvent).where(AuditEvent.action == "provider_command_refused")
    )
    assert [(e.details["command"], e.details["reason"]) for e in refused] == [
        ("messages", "unknown_label"),
        ("messages", "unknown_label"),
        ("messages", "bad_arguments"),
    ]
    assert await h.count(AuditEvent, AuditEvent.action == "provider_read_messages") == 0
    # In a private chat it is refused too (provider commands count only in the group).
    await h.send(h.server.user(6104, first_name="Stranger"), "/messages P-MSG3")
    assert await h.count(AuditEvent, AuditEvent.action == "provider_read_messages") == 0


async def test_recent_only_newest_twenty_and_one_message_at_most(harness: Harness) -> None:
    h = harness
    kim = h.server.user(6105, first_name="Kim")
    await enrol(h, kim, "P-MSG4")
    patient = await h.scalar(select(Patient).where(Patient.label == "P-MSG4"))
    assert patient is not None
    now = h.clock.now()
    async with h._sessions() as session:
        session.add(
            PatientMessage(
                patient_id=patient.id,
                received_at=now - timedelta(days=15),
                kind="text",
                body="too old to show",
            )
        )
        for n in range(25):
            session.add(
                PatientMessage(
                    patient_id=patient.id,
                    received_at=now - timedelta(hours=25 - n),
                    kind="note" if n % 2 else "text",
                    body=f"short message number {n:02d}",
                )
            )
        await session.commit()
    nurse = _nurse(h)
    await h.send(nurse, "/messages P-MSG4")
    shown = last(nurse).text
    assert "too old to show" not in shown
    numbers = [n for n in range(25) if f"number {n:02d}" in shown]
    assert numbers == list(range(5, 25))  # the newest 20
    assert shown.index("number 24") < shown.index("number 05")
    assert "daily note" in shown

    # Long messages: one Telegram message, the newest that fit, and how many were left out.
    async with h._sessions() as session:
        for n in range(5):
            session.add(
                PatientMessage(
                    patient_id=patient.id,
                    received_at=now + timedelta(minutes=n),
                    kind="text",
                    body=f"long{n} " + "x" * 4000,
                )
            )
        await session.commit()
    before = len(h.server.group(GROUP_A).messages)
    await h.advance(timedelta(minutes=10))
    await h.send(nurse, "/messages P-MSG4")
    replies = h.server.group(GROUP_A).messages[before:]
    assert len(replies) == 1
    text = replies[0].text
    assert len(text) <= 4096
    assert "long4" in text and "long3" in text and "long0" not in text
    assert "older not shown here" in text
