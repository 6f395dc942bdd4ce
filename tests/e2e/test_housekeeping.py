"""Retention housekeeping, each cohort by its own settings (docs/privacy.md)."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import ColumnElement, select

from storage.models import Answer, AuditEvent, OutboxMessage, Patient, ProcessedUpdate
from tests.conftest import CONFIG
from tests.e2e.conftest import GROUP_A, GROUP_B, GROUP_C
from tests.e2e.flows import enrol
from tests.support.harness import Harness


@pytest.fixture(name="config_path")
def fx_config_path(tmp_path: Path) -> Path:
    """clinic-a keeps finished messages 3 days (clinic-b the default 7); clinic-c erases a
    discharged patient's data 30 days after discharge, keeping nothing."""
    path = tmp_path / "moodcheck.toml"
    text = CONFIG.replace(
        'checkin_time = "09:00"\n', 'checkin_time = "09:00"\nfinished_messages_days = 3\n', 1
    ).replace(
        'questionnaire = "daily_note"\n',
        'questionnaire = "daily_note"\nerase_discharged_after_days = 30\n'
        'retention_after_delete = "none"\n',
    )
    path.write_text(text)
    return path


async def _rows(h: Harness, *where: ColumnElement[bool]) -> list[OutboxMessage]:
    return list(await h.rows(select(OutboxMessage).where(*where)))


def _scrubbed(row: OutboxMessage) -> bool:
    return row.payload == {} and row.chat_id <= 0


async def test_finished_messages_lose_content_and_chat_ids_per_cohort(harness: Harness) -> None:
    h = harness
    ann = h.server.user(4201, first_name="Ann")
    bo = h.server.user(4202, first_name="Bo")
    a = await enrol(h, ann, "P-HK1", cohort="clinic-a")
    b = await enrol(h, bo, "P-HK2", cohort="clinic-b")
    await h.send(ann, "a message for the team")
    await h.send(bo, "a message for the team")
    stranger = h.server.user(4203, first_name="Stranger")
    await h.send(stranger, "hello")
    assert all(r.status == "sent" for r in await _rows(h))
    housekeeping = h.runtime.services.housekeeping

    await h.advance(timedelta(days=2))
    assert (await housekeeping.run()).scrubbed == 0
    await h.advance(timedelta(days=1, seconds=1))
    swept = await housekeeping.run()
    ann_rows = await _rows(h, OutboxMessage.patient_id == a.id)
    assert ann_rows and all(_scrubbed(r) for r in ann_rows)
    assert await _rows(h, OutboxMessage.chat_id == ann.chat_id) == []
    assert all(r.payload == {} for r in await _rows(h, OutboxMessage.chat_id == GROUP_A))
    assert await _rows(h, OutboxMessage.chat_id == stranger.chat_id) == []  # no cohort: 3 days
    bo_rows = await _rows(h, OutboxMessage.chat_id == bo.chat_id)
    assert bo_rows and all(r.payload != {} for r in bo_rows)  # clinic-b: 7 days
    assert all(r.payload != {} for r in await _rows(h, OutboxMessage.chat_id == GROUP_B))
    assert swept.scrubbed == sum(r.payload == {} for r in await _rows(h))
    assert (await housekeeping.run()).scrubbed == 0  # a scrubbed row is not counted again

    await h.advance(timedelta(days=4))
    await housekeeping.run()
    assert all(_scrubbed(r) for r in await _rows(h, OutboxMessage.patient_id == b.id))
    assert await _rows(h, OutboxMessage.chat_id == bo.chat_id) == []
    # A patient row keeps its chat: only finished messages lose it.
    assert await h.scalar(select(Patient.chat_id).where(Patient.id == b.id)) == bo.chat_id


async def test_processed_update_ids_are_forgotten_after_two_days(harness: Harness) -> None:
    h = harness
    ann = h.server.user(4211, first_name="Ann")
    patient = await enrol(h, ann, "P-HK4")
    linked = await h.count(ProcessedUpdate, ProcessedUpdate.patient_id == patient.id)
    assert linked >= 1  # the consent tap is the patient's: erasure would find it
    await h.advance(timedelta(days=1))
    await h.send(ann, "/help")
    housekeeping = h.runtime.services.housekeeping
    assert (await housekeeping.run()).forgotten == 0
    await h.advance(timedelta(days=1, seconds=1))
    swept = await housekeeping.run()
    assert swept.forgotten >= 2  # /start and the consent tap
    assert await h.count(ProcessedUpdate) == 1  # /help, a day younger


async def test_a_discharged_patients_data_is_erased_after_the_cohorts_days(
    harness: Harness,
) -> None:
    h = harness
    nurse = h.server.group(GROUP_C).member(9401, first_name="Nurse", status="administrator")
    cy = h.server.user(4221, first_name="Cy")
    await enrol(h, cy, "P-HK3", cohort="clinic-c")
    await h.send(cy, "/checkin")
    await h.press(cy, "5")
    await h.send(nurse, "/discharge P-HK3")
    assert await h.scalar(select(Patient.status).where(Patient.label == "P-HK3")) == "discharged"
    told = len(h.server.group(GROUP_C).messages)
    housekeeping = h.runtime.services.housekeeping
    await h.advance(timedelta(days=30) - timedelta(seconds=1))
    assert (await housekeeping.run()).erased == 0
    assert await h.count(Answer) == 1
    await h.advance(timedelta(seconds=2))
    assert (await housekeeping.run()).erased == 1
    await h.settle()
    assert await h.count(Patient, Patient.label == "P-HK3") == 0  # retention "none"
    assert await h.count(Answer) == 0
    erased = await h.scalar(select(AuditEvent).where(AuditEvent.action == "data_erased"))
    assert erased is not None and (erased.actor, erased.patient_id) == ("system", None)
    assert len(h.server.group(GROUP_C).messages) == told  # the team discharged them
    assert (await housekeeping.run()).erased == 0
