"""Reads of patient data are audited per patient (who, which patient, when), through the real
stack, and the audit chain verifies afterwards; erasing a patient scrubs their records from
the trail without breaking it (docs/security.md, "Audit trail")."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import select

from bot.config import AppConfig, load_config
from bot.domain.audit_chain import ERASED_ACTION, TOMBSTONE
from storage.models import AuditEvent, Patient
from tests.conftest import CONFIG
from tests.e2e.conftest import GROUP_A, GROUP_B
from tests.e2e.flows import CALM_DAY, answer_all, enrol, last
from tests.support.harness import Harness


@pytest.fixture(name="config")
def fx_config(tmp_path: Path) -> AppConfig:
    """clinic-b keeps nothing of a patient who erases their data."""
    text = CONFIG.replace(
        "provider_chat_id = -100222\n",
        'provider_chat_id = -100222\nretention_after_delete = "none"\n',
    )
    path = tmp_path / "moodcheck.toml"
    path.write_text(text, encoding="utf-8")
    return load_config(path)


async def _reads(h: Harness, action: str) -> list[tuple[str, int | None]]:
    rows = await h.rows(
        select(AuditEvent).where(AuditEvent.action == action).order_by(AuditEvent.id)
    )
    return [(e.actor, e.patient_id) for e in rows]


async def _verified(h: Harness) -> None:
    states = await h.runtime.services.audit_trail.verify()
    assert states and all(s.broken is None for s in states), states


async def test_reads_are_audited_per_patient_and_the_chain_verifies(harness: Harness) -> None:
    h = harness
    group = h.server.group(GROUP_A)
    alice, bruno = h.server.user(5201, first_name="Alice"), h.server.user(5202, "Bruno")
    a = await enrol(h, alice, "P-RDA1")
    b = await enrol(h, bruno, "P-RDB1")
    for user in (alice, bruno):
        await h.send(user, "/checkin")
        await answer_all(h, user, CALM_DAY)
    ada = group.member(9701, first_name="Ada", status="administrator")
    actor = "provider:9701"
    await h.send(ada, "/patient P-RDA1")
    await h.send(ada, "/messages P-RDB1")
    assert await _reads(h, "provider_viewed_patient") == [(actor, a.id)]
    assert await _reads(h, "provider_read_messages") == [(actor, b.id)]
    await h.send(ada, "/export")
    await h.send(ada, "/export fhir")
    exported = await h.rows(
        select(AuditEvent).where(AuditEvent.action == "patient_exported").order_by(AuditEvent.id)
    )
    assert [(e.actor, e.patient_id, e.details["format"]) for e in exported] == [
        (actor, a.id, "csv"),
        (actor, b.id, "csv"),
        (actor, a.id, "fhir"),
        (actor, b.id, "fhir"),
    ]
    # The digest draws a chart and files: on a busy machine that takes longer than a reply.
    h.track(await ada.send_text("/digest"))
    await h.settle(timeout=90)
    assert sorted(await _reads(h, "patient_in_digest")) == [(actor, a.id), (actor, b.id)]
    # Every record is in the cohort's chain, and the chain verifies.
    rows = await h.rows(select(AuditEvent).where(AuditEvent.seq.is_(None)))
    assert rows == []
    await _verified(h)


async def test_erasure_scrubs_the_trail_and_it_still_verifies(harness: Harness) -> None:
    h = harness
    dora = h.server.user(5203, first_name="Dora")
    patient = await enrol(h, dora, "P-ERA1", cohort="clinic-b")
    nurse = h.server.group(GROUP_B).member(9702, first_name="Nina")
    await h.send(nurse, "/patient P-ERA1")  # open to every member, and audited
    await h.send(nurse, "/messages P-ERA1")  # refused (not a clinician), audited with the label
    named = await h.rows(select(AuditEvent).where(AuditEvent.patient_id == patient.id))
    assert {e.action for e in named} >= {
        "consented",
        "provider_viewed_patient",
        "provider_command_refused",
    }
    await h.send(dora, "/delete")
    await h.press(dora, "Yes, erase my data")
    await h.press(dora, "Erase everything now")
    assert "has been erased" in last(dora).text
    assert await h.count(Patient, Patient.id == patient.id) == 0
    assert await h.count(AuditEvent, AuditEvent.patient_id == patient.id) == 0
    scrubbed = await h.rows(select(AuditEvent).where(AuditEvent.id.in_([e.id for e in named])))
    assert [(e.details, e.salt, e.patient_id) for e in scrubbed] == [
        (dict(TOMBSTONE), None, None)
    ] * len(named)
    [erased] = await h.rows(select(AuditEvent).where(AuditEvent.action == ERASED_ACTION))
    # The linked records, and those naming the label without the link (the invite's creation).
    assert set(erased.details["seqs"]) >= {e.seq for e in named}
    assert len(erased.details["seqs"]) > len(named)
    left = await h.rows(select(AuditEvent))
    assert not [e.details for e in left if "P-ERA1" in str(e.details)]
    await _verified(h)
