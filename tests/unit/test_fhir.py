"""The FHIR builder and its code table: pure, checked with the fhir.resources models."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from fhir.resources.R4B import get_fhir_model_class
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.domain.fhir import (
    DAILY_ITEM_SYSTEM,
    ExportCheckin,
    ExportPatient,
    ExportSettings,
    FhirBuilder,
    ResourceIds,
    entry,
    utc_instant,
)
from bot.domain.fhir_encoder import Encoder
from bot.domain.instruments import Instrument
from bot.domain.questionnaire import ItemKind
from bot.services.digest.fhir_export import join_answers
from prompts.fhir_codes import FHIR_CODES, FhirCodesError, load_fhir_codes, loinc_check_digit
from prompts.questionnaires import load_questionnaire, questionnaire_path
from storage.queries.export import ExportedCheckin

AT = datetime(2026, 3, 2, 14, 30, tzinfo=UTC)
DAILY = {
    "mood": "7",
    "anxiety": "3",
    "sleep": "4",
    "energy": "2",
    "dose": "as_prescribed",
    "side_effects": "nausea,headache",
    "safety": "no",
}
PHQ9 = {f"phq9_{n}": "2" for n in range(1, 10)} | {"phq9_9": "3", "difficulty": "very"}
GAD7 = {f"gad7_{n}": "1" for n in range(1, 8)}


_DAILY = load_questionnaire(questionnaire_path("daily"))
_INSTRUMENTS = {
    i: load_questionnaire(questionnaire_path(i.value)) for i in (Instrument.PHQ9, Instrument.GAD7)
}
_CODES = load_fhir_codes()


def _builder() -> FhirBuilder:
    return FhirBuilder(
        ExportSettings(cohort="clinic-x", identifier_system="urn:example:clinic-x:label"),
        _CODES,
        _DAILY,
        _INSTRUMENTS,
    )


def _checkin(checkin_id: int, status: str, answers: dict[str, str]) -> ExportCheckin:
    return ExportCheckin(
        checkin_id=checkin_id, patient_key=1, status=status, authored=AT, answers=answers
    )


def _resources(builder: FhirBuilder, checkins: list[ExportCheckin]) -> list[dict[str, Any]]:
    subject = builder.ids("patient", 1)
    out = [builder.patient_resource(ExportPatient(1, "P-7Q3K"))]
    for checkin in checkins:
        out.extend(builder.checkin_resources(checkin, subject))
    return out


def _validate(resource: dict[str, Any]) -> None:
    get_fhir_model_class(str(resource["resourceType"])).model_validate(resource)


def _by_type(resources: list[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    return [r for r in resources if r["resourceType"] == kind]


def test_every_code_in_the_table_has_a_valid_check_digit() -> None:
    table = load_fhir_codes()
    for codes in table.instruments.values():
        for code in (codes.panel.code, codes.total.code, *codes.items.values()):
            number, digit = code.split("-")
            assert loinc_check_digit(number) == int(digit), code
    assert table.instruments[Instrument.PHQ9].total.code == "44261-6"
    assert table.instruments[Instrument.PHQ9].items["phq9_9"] == "44260-8"
    assert table.instruments[Instrument.GAD7].total.code == "70274-6"
    assert table.instruments[Instrument.PCL5].panel.code == "101697-1"


def test_a_typo_in_a_code_or_an_unknown_item_stops_the_export(tmp_path: Path) -> None:
    text = FHIR_CODES.read_text()
    typo = tmp_path / "typo.yaml"
    typo.write_text(text.replace("44261-6", "44261-5"))
    with pytest.raises(FhirCodesError, match=r"phq9\.total.*44261-5"):
        load_fhir_codes(typo)
    unknown = tmp_path / "unknown.yaml"
    unknown.write_text(text.replace("gad7_7: 69736-7", "gad7_8: 69736-7"))
    with pytest.raises(FhirCodesError, match="gad7_8"):
        load_fhir_codes(unknown)


@given(st.integers(min_value=1, max_value=9_999_999))
def test_check_digit_catches_any_single_digit_change(number: int) -> None:
    text = str(number)
    digit = loinc_check_digit(text)
    for position in range(len(text)):
        for replacement in "0123456789":
            if replacement == text[position]:
                continue
            changed = text[:position] + replacement + text[position + 1 :]
            assert loinc_check_digit(changed) != digit


def test_a_completed_day_with_instruments_becomes_valid_resources() -> None:
    builder = _builder()
    resources = _resources(
        builder,
        [
            _checkin(10, "completed", DAILY | PHQ9 | GAD7),
            _checkin(11, "partial", {"mood": "2"}),  # not exported as answers
            _checkin(12, "open", {"phq9_1": "1"}),  # an unfinished administration
        ],
    )
    for resource in [*builder.questionnaire_resources(), *resources]:
        _validate(resource)
    [patient] = _by_type(resources, "Patient")
    assert patient["identifier"] == [{"system": "urn:example:clinic-x:label", "value": "P-7Q3K"}]
    assert set(patient) == {"resourceType", "id", "identifier"}  # no name, no Telegram data
    responses = _by_type(resources, "QuestionnaireResponse")
    assert [r["questionnaire"].split("/")[-1] for r in responses] == [
        "daily|2",
        "phq9|1",
        "gad7|1",
    ]
    assert all(r["authored"] == "2026-03-02T14:30:00+00:00" for r in responses)
    phq9 = responses[1]
    item9 = next(i for i in phq9["item"] if i["linkId"] == "phq9_9")
    assert item9["answer"] == [
        {
            "valueCoding": {
                "system": "http://loinc.org",
                "code": "LA6571-9",
                "display": "Nearly every day",
            }
        }
    ]
    totals = {
        o["code"]["coding"][0]["code"]: o
        for o in _by_type(resources, "Observation")
        if o["code"]["coding"][0]["system"] == "http://loinc.org"
    }
    assert totals["44261-6"]["valueInteger"] == 19  # 8 x 2 + 3
    assert totals["44261-6"]["interpretation"][0]["coding"][0]["code"] == "moderately_severe"
    assert totals["70274-6"]["valueInteger"] == 7
    assert totals["44261-6"]["derivedFrom"] == [{"reference": f"urn:uuid:{phq9['id']}"}]
    daily = {
        o["code"]["coding"][0]["code"]: o
        for o in _by_type(resources, "Observation")
        if o["code"]["coding"][0]["system"] == DAILY_ITEM_SYSTEM
    }
    assert set(daily) == set(DAILY)
    assert daily["mood"]["valueInteger"] == 7
    assert daily["energy"]["valueInteger"] == 2
    side_effects = daily["side_effects"]["valueCodeableConcept"]["coding"]
    assert [c["code"] for c in side_effects] == ["nausea", "headache"]


def test_ids_are_stable_distinct_and_uuids() -> None:
    first = _resources(_builder(), [_checkin(10, "completed", DAILY | PHQ9)])
    again = _resources(_builder(), [_checkin(10, "completed", DAILY | PHQ9)])
    ids = [r["id"] for r in first]
    assert ids == [r["id"] for r in again]
    assert len(set(ids)) == len(ids)
    for rid in ids:
        assert str(uuid.UUID(rid)) == rid and uuid.UUID(rid).variant == uuid.RFC_4122
    other = ResourceIds("clinic-y")
    assert other("patient", 1) != _builder().ids("patient", 1)


@st.composite
def _answers(draw: st.DrawFn) -> dict[str, str]:
    """Stored answers of the daily set and the instruments: each questionnaire either fully
    answered with valid values or any subset, values valid or not."""
    answers: dict[str, str] = {}
    for questionnaire in (_DAILY, *_INSTRUMENTS.values()):
        complete = draw(st.booleans())
        for item in questionnaire.items:
            if not complete and not draw(st.booleans()):
                continue
            values = [o.value for o in item.options] or ["x"]
            if item.kind is ItemKind.MULTI:
                chosen = draw(st.lists(st.sampled_from(values), min_size=1, unique=True))
                answers[item.id] = item.join(set(chosen))
            else:
                answers[item.id] = draw(st.sampled_from(values if complete else [*values, "?"]))
    return answers


@given(
    st.lists(
        st.tuples(
            st.sampled_from(["completed", "partial", "stopped", "open"]),
            _answers(),
            st.datetimes(timezones=st.just(UTC)),
        ),
        max_size=4,
    )
)
@settings(max_examples=60, deadline=None)
def test_the_templates_write_exactly_what_the_builder_builds(
    days: list[tuple[str, dict[str, str], datetime]],
) -> None:
    builder = _builder()
    encoder = Encoder(builder)
    subject = builder.ids("patient", 1)
    for n, (status, answers, at) in enumerate(days):
        checkin = ExportCheckin(
            checkin_id=n, patient_key=1, status=status, authored=at, answers=answers
        )
        fast = [json.loads(e.json) for e in encoder.checkin(checkin, subject)]
        reference = [entry(r) for r in builder.checkin_resources(checkin, subject)]
        assert fast == reference


def test_times_must_be_aware() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        utc_instant(datetime(2026, 1, 1))
    assert utc_instant(datetime(2026, 1, 1, 9, tzinfo=UTC)) == "2026-01-01T09:00:00+00:00"


@given(
    st.dictionaries(
        st.integers(1, 40),
        st.dictionaries(st.sampled_from(["mood", "sleep", "safety"]), st.just("1"), max_size=3),
        max_size=15,
    ),
    st.integers(1, 5),
    st.integers(1, 5),
)
@settings(max_examples=80, deadline=None)
def test_check_ins_and_answers_are_joined_across_any_batch_boundaries(
    stored: dict[int, dict[str, str]], checkin_batch: int, answer_batch: int
) -> None:
    """The two streams come in batches of their own; every check-in gets exactly its answers
    (answers of check-ins not in the check-in stream are skipped)."""
    ids = sorted(stored)
    listed = ids[::2] if len(ids) > 1 else ids  # some answered check-ins are not exported
    rows = [ExportedCheckin(i, 7, "completed", AT, AT) for i in listed]
    answers = [(i, item, v) for i in ids for item, v in sorted(stored[i].items())]

    async def chunks(items: list[Any], size: int) -> AsyncIterator[list[Any]]:
        for start in range(0, len(items), size):
            yield items[start : start + size]

    async def run() -> list[ExportCheckin]:
        joined = join_answers(chunks(rows, checkin_batch), chunks(answers, answer_batch))
        return [checkin async for checkin in joined]

    merged = asyncio.run(run())
    assert [c.checkin_id for c in merged] == listed
    assert all(c.answers == stored[c.checkin_id] for c in merged)
