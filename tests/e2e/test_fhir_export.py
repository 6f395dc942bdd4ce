"""FHIR export end to end: patients tap through the real bot, then the bundle (from the group's
/export fhir and from the service the CLI runs) is parsed back with fhir.resources and checked
against the database."""

from __future__ import annotations

import dataclasses
import io
import json
from datetime import UTC, datetime
from typing import Any

from fhir.resources.R4B.bundle import Bundle
from sqlalchemy import select

from bot.domain.instruments import SPECS, Instrument
from bot.services.digest.fhir_export import FhirExport
from storage.models import Answer, AuditEvent, Checkin, Patient
from tests.e2e.conftest import GROUP_D
from tests.e2e.flows import (
    CALM_DAY,
    CALM_DAY_STORED,
    answer_all,
    answer_day,
    enrol,
    last,
    press_all,
)
from tests.support.harness import Harness

# Item 9 "Several days" (1) brings its follow-up (acting on it / unsafe now?): "No".
PHQ9 = ["More than half the days"] * 8 + ["Several days", "No", "Somewhat difficult"]  # 17
GAD7 = ["Nearly every day"] * 7  # 21
PCL5 = ["A little bit"] * 20  # 20
LOINC = "http://loinc.org"


def _entries(bundle: dict[str, Any], kind: str) -> list[dict[str, Any]]:
    return [e["resource"] for e in bundle["entry"] if e["resource"]["resourceType"] == kind]


async def _week(h: Harness) -> None:
    """P-F001 completes Monday with every instrument; P-F002 stops half-way; P-F003 completes
    a day and is discharged."""
    full = h.server.user(8101, first_name="Fiona")
    await enrol(h, full, "P-F001", cohort="clinic-d")
    await h.send(full, "/checkin")
    await answer_all(h, full, CALM_DAY)
    await press_all(h, full, PHQ9 + GAD7 + PCL5)
    half = h.server.user(8102, first_name="Hugo")
    await enrol(h, half, "P-F002", cohort="clinic-d")
    await h.send(half, "/checkin")
    await answer_day(h, half, {"mood": "5", "anxiety": "5"}, until="sleep")
    gone = h.server.user(8103, first_name="Gil")
    await enrol(h, gone, "P-F003", cohort="clinic-d")
    h.clock.set(datetime(2026, 1, 13, 10, 0, tzinfo=UTC))  # Tuesday: daily items only
    await h.send(gone, "/checkin")
    await answer_all(h, gone, CALM_DAY)
    await h.send(
        h.server.group(GROUP_D).member(9101, first_name="Nurse", status="administrator"),
        "/discharge P-F003",
    )


async def test_group_export_is_a_valid_bundle_matching_the_database(harness: Harness) -> None:
    h = harness
    await _week(h)
    nurse = h.server.group(GROUP_D).member(9101, first_name="Nurse", status="administrator")
    await h.send(nurse, "/export fhir")
    document = last(nurse)
    assert document.kind == "document" and document.document is not None
    assert document.filename == "moodcheck-clinic-d-2026-01-13.fhir.json"
    raw = json.loads(document.document.decode())
    Bundle.model_validate(raw)  # every entry is parsed into its resource's model
    assert raw["type"] == "collection"

    # Only the label identifies a patient; nobody's name or Telegram id is anywhere.
    text = document.document.decode()
    for secret in ("Fiona", "Hugo", "Gil", "8101", "8102", "8103"):
        assert secret not in text
    labels = {p["identifier"][0]["value"] for p in _entries(raw, "Patient")}
    assert labels == {"P-F001", "P-F002"}  # the discharged patient is left out by default

    # One daily response (P-F002's open check-in is not exported), one per instrument.
    responses = _entries(raw, "QuestionnaireResponse")
    by_questionnaire = sorted(r["questionnaire"].split("/")[-1] for r in responses)
    assert by_questionnaire == ["daily|2", "gad7|1", "pcl5|1", "phq9|1"]
    patient = await h.scalar(select(Patient).where(Patient.label == "P-F001"))
    assert patient is not None
    checkin = await h.scalar(select(Checkin).where(Checkin.patient_id == patient.id))
    assert checkin is not None and checkin.completed_at is not None
    stored = dict(
        await h.rows(select(Answer.item_id, Answer.value).where(Answer.checkin_id == checkin.id))
    )
    daily = next(r for r in responses if r["questionnaire"].endswith("/daily|2"))
    assert daily["authored"] == checkin.completed_at.astimezone(UTC).isoformat()
    exported = {i["linkId"] for i in daily["item"]}
    assert exported == set(CALM_DAY_STORED)

    totals = {
        o["code"]["coding"][0]["code"]: o["valueInteger"]
        for o in _entries(raw, "Observation")
        if o["code"]["coding"][0]["system"] == LOINC
    }
    expected = {
        "44261-6": sum(int(stored[i]) for i in SPECS[Instrument.PHQ9].item_ids()),
        "70274-6": sum(int(stored[i]) for i in SPECS[Instrument.GAD7].item_ids()),
        "101698-9": sum(int(stored[i]) for i in SPECS[Instrument.PCL5].item_ids()),
    }
    assert totals == expected == {"44261-6": 17, "70274-6": 21, "101698-9": 20}
    daily_observations = [
        o for o in _entries(raw, "Observation") if o["code"]["coding"][0]["system"] != LOINC
    ]
    assert len(daily_observations) == len(CALM_DAY_STORED)
    mood = next(o for o in daily_observations if o["code"]["coding"][0]["code"] == "mood")
    assert mood["valueInteger"] == int(stored["mood"])

    audit = await h.scalar(select(AuditEvent).where(AuditEvent.action == "provider_exported"))
    assert audit is not None and audit.details["format"] == "fhir"


async def test_every_resource_validates_and_discharged_patients_when_the_cohort_says_so(
    harness: Harness,
) -> None:
    h = harness
    await _week(h)
    runtime = h.runtime.services.runtime
    out = io.StringIO()
    result = await FhirExport(runtime).write("clinic-d", out, check_all=True)
    assert result.checked == sum(result.counts.by_type.values())
    assert result.counts.by_type["Patient"] == 2

    cohorts = [
        c.model_copy(update={"export_discharged": True}) if c.name == "clinic-d" else c
        for c in runtime.config.cohorts
    ]
    runtime.config = dataclasses.replace(runtime.config, cohorts=tuple(cohorts))
    out = io.StringIO()
    result = await FhirExport(runtime).write("clinic-d", out, check_all=True)
    bundle = json.loads(out.getvalue())
    labels = {p["identifier"][0]["value"] for p in _entries(bundle, "Patient")}
    assert labels == {"P-F001", "P-F002", "P-F003"}
    assert result.counts.by_type["QuestionnaireResponse"] == 5  # P-F003's Tuesday too


async def test_export_usage(harness: Harness) -> None:
    h = harness
    nurse = h.server.group(GROUP_D).member(9101, first_name="Nurse", status="administrator")
    await h.send(nurse, "/export hl7")
    assert "/export fhir" in last(nurse).text
