"""FHIR R4 resources for a cohort's export, built as plain JSON-ready dicts (docs/fhir.md).

Pure: plain values in, dicts out. The service validates them with ``fhir.resources`` and
writes the Bundle. What is exported and why:

- a Patient per patient, identified only by the pseudonymous label (no name, no Telegram id);
- a Questionnaire per questionnaire asked (the daily set and each instrument), items coded
  with LOINC where a code is listed in ``prompts/fhir_codes.yaml``;
- a QuestionnaireResponse per completed daily check-in (its daily items) and per completed
  instrument administration (every scored item answered); partial, stopped, skipped and
  missed days are not exported as answers, so a missing answer never looks like a zero;
- an Observation per instrument total (LOINC code, band as interpretation, ``derivedFrom``
  the response) and per answered daily item (the project's own code system).

Free-text notes are never exported.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime

from bot.domain.instruments import SPECS, Band, Instrument
from bot.domain.questionnaire import MULTI_SEPARATOR, Item, ItemKind, Questionnaire

DAILY_ITEM_SYSTEM = "urn:moodcheck:fhir:daily-item"
"""The project's code system for daily items: the code is the questionnaire item id."""
ANSWER_SYSTEM = "urn:moodcheck:fhir:answer"
"""Answers without a standard code: ``<system>:<questionnaire id>:<item id>``, code = value."""
BAND_SYSTEM = "urn:moodcheck:fhir:band"
"""Published severity bands of the PHQ-9 and GAD-7 (bot.domain.instruments.Band)."""
OBSERVATION_CATEGORY = "http://terminology.hl7.org/CodeSystem/observation-category"
ORDINAL_EXTENSION = "http://hl7.org/fhir/StructureDefinition/ordinalValue"
_NAMESPACE = uuid.UUID("6f0f7c1e-4b1f-5b8e-9a57-0a3c54f1d1a2")
"""Fixed, so the same row always gets the same resource id (an EHR can de-duplicate)."""


@dataclass(frozen=True, slots=True)
class Code:
    """A code in a code system, with its display where it was checked."""

    code: str
    display: str | None = None


@dataclass(frozen=True, slots=True)
class InstrumentCodes:
    """The LOINC codes of one instrument (``prompts/fhir_codes.yaml``)."""

    panel: Code
    total: Code
    items: Mapping[str, str]
    """Item id -> LOINC code, where one exists."""
    frequency_items: frozenset[str]
    """Items answered on the 0-3 frequency scale (LOINC answer list LL358-3)."""


@dataclass(frozen=True, slots=True)
class CodeTable:
    """Every standard code the export uses."""

    loinc_system: str
    frequency_answers: Mapping[str, Code]
    instruments: Mapping[Instrument, InstrumentCodes]


@dataclass(frozen=True, slots=True)
class ExportSettings:
    """A cohort's export choices."""

    cohort: str
    identifier_system: str
    """The URI under which patients' labels are identifiers (per cohort)."""
    canonical_base: str = "urn:moodcheck:fhir"
    """Base of the Questionnaires' canonical URLs."""


@dataclass(frozen=True, slots=True)
class ExportCheckin:
    """One check-in of one patient, with its answers (item id -> stored value)."""

    patient_key: int
    checkin_id: int
    local_date: date
    status: str
    questionnaire_id: str
    """The daily questionnaire's id (the instrument items, if asked that day, are answers
    too; they are recognised by the instruments' item ids)."""
    completed_at: datetime | None
    closes_at: datetime
    answers: Mapping[str, str]
    answered_at: datetime | None = None
    """The last answer's time, used when a check-in was never completed."""


@dataclass(frozen=True, slots=True)
class ExportPatient:
    """A patient as the export may show them: the label only."""

    key: int
    """A database key, used only to make resource ids; never written to the bundle."""
    label: str


@dataclass(slots=True)
class BundleCounts:
    """How many resources of each kind a bundle holds."""

    by_type: dict[str, int] = field(default_factory=dict)

    def add(self, resource_type: str) -> None:
        """Count one resource."""
        self.by_type[resource_type] = self.by_type.get(resource_type, 0) + 1


def resource_id(cohort: str, kind: str, key: object) -> str:
    """Return a stable UUID for a row, as the resource id (``fullUrl`` is ``urn:uuid:<id>``)."""
    return str(uuid.uuid5(_NAMESPACE, f"{cohort}/{kind}/{key}"))


def utc_instant(instant: datetime) -> str:
    """Return an aware time in UTC as FHIR wants it, with its offset (``+00:00``)."""
    if instant.utcoffset() is None:
        raise ValueError(f"time must be timezone-aware, got {instant!r}")
    return instant.astimezone(UTC).isoformat(timespec="seconds")


def _coding(system: str, code: Code | str) -> dict[str, str]:
    if isinstance(code, str):
        return {"system": system, "code": code}
    coding = {"system": system, "code": code.code}
    if code.display:
        coding["display"] = code.display
    return coding


def _ref(resource: dict[str, object]) -> dict[str, str]:
    return {"reference": f"urn:uuid:{resource['id']}"}


def _numeric(item: Item) -> bool:
    """Tell whether an item's answers are numbers (a scale, or options valued 0, 1, 2...)."""
    if item.kind is ItemKind.SCALE:
        return True
    return item.kind is ItemKind.CHOICE and all(o.value.isdigit() for o in item.options)


def _answer_system(questionnaire: Questionnaire, item: Item) -> str:
    return f"{ANSWER_SYSTEM}:{questionnaire.id}:{item.id}"


def _answer_code(item: Item, value: str) -> Code:
    for option in item.options:
        if option.value == value:
            return Code(value, option.labels.get("en"))
    return Code(value)


def canonical(settings: ExportSettings, questionnaire: Questionnaire) -> str:
    """Return the canonical reference (``url|version``) of a questionnaire."""
    return f"{settings.canonical_base}/Questionnaire/{questionnaire.id}|{questionnaire.version}"


class FhirBuilder:
    """Builds one cohort's resources. Stateless apart from its inputs."""

    def __init__(
        self,
        settings: ExportSettings,
        codes: CodeTable,
        daily: Questionnaire,
        instruments: Mapping[Instrument, Questionnaire],
    ) -> None:
        self._settings = settings
        self._codes = codes
        self._daily = daily
        self._instruments = instruments

    def _id(self, kind: str, key: object) -> str:
        return resource_id(self._settings.cohort, kind, key)

    def patient(self, patient: ExportPatient) -> dict[str, object]:
        """Return a Patient that carries only the pseudonymous label."""
        return {
            "resourceType": "Patient",
            "id": self._id("patient", patient.key),
            "identifier": [{"system": self._settings.identifier_system, "value": patient.label}],
        }

    def questionnaires(self) -> list[dict[str, object]]:
        """Return the daily Questionnaire and one per instrument."""
        out = [self._questionnaire(self._daily, None)]
        out.extend(
            self._questionnaire(questionnaire, instrument)
            for instrument, questionnaire in self._instruments.items()
        )
        return out

    def _questionnaire(
        self, questionnaire: Questionnaire, instrument: Instrument | None
    ) -> dict[str, object]:
        codes = self._codes.instruments.get(instrument) if instrument else None
        resource: dict[str, object] = {
            "resourceType": "Questionnaire",
            "id": self._id("questionnaire", questionnaire.id),
            "url": f"{self._settings.canonical_base}/Questionnaire/{questionnaire.id}",
            "version": str(questionnaire.version),
            "name": questionnaire.id.upper().replace("-", "_"),
            "status": "active",
            "subjectType": ["Patient"],
            "item": [
                self._question(questionnaire, item, codes)
                for item in questionnaire.items
                if item.kind is not ItemKind.NOTE  # free text is never exported
            ],
        }
        if questionnaire.source:
            resource["copyright"] = questionnaire.source
        if codes:
            resource["code"] = [_coding(self._codes.loinc_system, codes.panel)]
        return resource

    def _question(
        self, questionnaire: Questionnaire, item: Item, codes: InstrumentCodes | None
    ) -> dict[str, object]:
        question: dict[str, object] = {
            "linkId": item.id,
            "text": item.text("en"),
            "type": "integer" if item.kind is ItemKind.SCALE else "choice",
        }
        if item.kind is ItemKind.MULTI:
            question["repeats"] = True
        if codes and item.id in codes.items:
            question["code"] = [_coding(self._codes.loinc_system, codes.items[item.id])]
        if item.kind is not ItemKind.SCALE:
            question["answerOption"] = [
                {"valueCoding": self._answer_coding(questionnaire, item, option.value, codes)}
                for option in item.options
            ]
        return question

    def _answer_coding(
        self,
        questionnaire: Questionnaire,
        item: Item,
        value: str,
        codes: InstrumentCodes | None,
    ) -> dict[str, str]:
        if codes and item.id in codes.frequency_items and value in self._codes.frequency_answers:
            return _coding(self._codes.loinc_system, self._codes.frequency_answers[value])
        return _coding(_answer_system(questionnaire, item), _answer_code(item, value))

    def _answers(
        self,
        questionnaire: Questionnaire,
        item: Item,
        stored: str,
        codes: InstrumentCodes | None,
    ) -> list[dict[str, object]]:
        if item.kind is ItemKind.SCALE:
            return [{"valueInteger": int(stored)}]
        values = stored.split(MULTI_SEPARATOR) if item.kind is ItemKind.MULTI else [stored]
        return [
            {"valueCoding": self._answer_coding(questionnaire, item, value, codes)}
            for value in values
        ]

    def _response(
        self,
        *,
        kind: str,
        checkin: ExportCheckin,
        questionnaire: Questionnaire,
        codes: InstrumentCodes | None,
        patient_ref: dict[str, str],
        authored: datetime,
    ) -> dict[str, object]:
        items = []
        for item in questionnaire.items:
            stored = checkin.answers.get(item.id)
            if stored is None or item.kind is ItemKind.NOTE or not item.accepts_answer(stored):
                continue
            entry: dict[str, object] = {
                "linkId": item.id,
                "text": item.text("en"),
                "answer": self._answers(questionnaire, item, stored, codes),
            }
            items.append(entry)
        return {
            "resourceType": "QuestionnaireResponse",
            "id": self._id(kind, checkin.checkin_id),
            "questionnaire": canonical(self._settings, questionnaire),
            "status": "completed",
            "subject": patient_ref,
            "authored": utc_instant(authored),
            "item": items,
        }

    def checkin_resources(
        self, checkin: ExportCheckin, patient_ref: dict[str, str]
    ) -> Iterator[dict[str, object]]:
        """Yield a check-in's responses and observations (nothing for an incomplete day)."""
        authored = checkin.completed_at or checkin.answered_at or checkin.closes_at
        if checkin.status == "completed" and any(
            item.id in checkin.answers for item in self._daily.items
        ):
            response = self._response(
                kind="daily-response",
                checkin=checkin,
                questionnaire=self._daily,
                codes=None,
                patient_ref=patient_ref,
                authored=authored,
            )
            yield response
            yield from self._daily_observations(checkin, patient_ref, response, authored)
        for instrument, questionnaire in self._instruments.items():
            spec = SPECS[instrument]
            if not all(item in checkin.answers for item in spec.item_ids()):
                continue  # not a completed administration
            codes = self._codes.instruments[instrument]
            response = self._response(
                kind=f"{instrument.value}-response",
                checkin=checkin,
                questionnaire=questionnaire,
                codes=codes,
                patient_ref=patient_ref,
                authored=authored,
            )
            yield response
            yield self._total(
                instrument=instrument,
                checkin=checkin,
                codes=codes,
                patient_ref=patient_ref,
                response=response,
                authored=authored,
            )

    def _observation(
        self,
        *,
        kind: str,
        key: object,
        code: dict[str, str],
        patient_ref: dict[str, str],
        response: dict[str, object],
        authored: datetime,
    ) -> dict[str, object]:
        return {
            "resourceType": "Observation",
            "id": self._id(kind, key),
            "status": "final",
            "category": [
                {"coding": [{"system": OBSERVATION_CATEGORY, "code": "survey"}]},
            ],
            "code": {"coding": [code]},
            "subject": patient_ref,
            "effectiveDateTime": utc_instant(authored),
            "derivedFrom": [_ref(response)],
        }

    def _total(
        self,
        *,
        instrument: Instrument,
        checkin: ExportCheckin,
        codes: InstrumentCodes,
        patient_ref: dict[str, str],
        response: dict[str, object],
        authored: datetime,
    ) -> dict[str, object]:
        spec = SPECS[instrument]
        total = sum(int(checkin.answers[item]) for item in spec.item_ids())
        observation = self._observation(
            kind=f"{instrument.value}-total",
            key=checkin.checkin_id,
            code=_coding(self._codes.loinc_system, codes.total),
            patient_ref=patient_ref,
            response=response,
            authored=authored,
        )
        observation["valueInteger"] = total
        band = spec.band(total)
        if band is not None:
            observation["interpretation"] = [_band(band)]
        return observation

    def _daily_observations(
        self,
        checkin: ExportCheckin,
        patient_ref: dict[str, str],
        response: dict[str, object],
        authored: datetime,
    ) -> Iterator[dict[str, object]]:
        for item in self._daily.items:
            stored = checkin.answers.get(item.id)
            if stored is None or item.kind is ItemKind.NOTE or not item.accepts_answer(stored):
                continue
            observation = self._observation(
                kind=f"daily-{item.id}",
                key=checkin.checkin_id,
                code={"system": DAILY_ITEM_SYSTEM, "code": item.id, "display": _short(item)},
                patient_ref=patient_ref,
                response=response,
                authored=authored,
            )
            if _numeric(item):
                observation["valueInteger"] = int(stored)
            else:
                values = stored.split(MULTI_SEPARATOR)
                observation["valueCodeableConcept"] = {
                    "coding": [
                        _coding(
                            _answer_system(self._daily, item),
                            _answer_code(item, value),
                        )
                        for value in values
                    ]
                }
            yield observation


def _short(item: Item) -> str:
    """Return an item's English text's first line, as a display for its code."""
    return item.text("en").split("\n", 1)[0]


def _band(band: Band) -> dict[str, object]:
    label = band.value.replace("_", " ").capitalize()
    return {"coding": [{"system": BAND_SYSTEM, "code": band.value, "display": label}]}


def bundle_envelope(timestamp: datetime) -> dict[str, object]:
    """Return the Bundle's own fields (the entries are written after them)."""
    return {
        "resourceType": "Bundle",
        "type": "collection",
        "timestamp": utc_instant(timestamp),
    }


def entry(resource: Mapping[str, object]) -> dict[str, object]:
    """Return a Bundle entry for a resource (``fullUrl`` from its UUID id)."""
    return {"fullUrl": f"urn:uuid:{resource['id']}", "resource": resource}


def patient_resources(
    builder: FhirBuilder,
    patient: ExportPatient,
    checkins: Sequence[ExportCheckin],
) -> Iterator[dict[str, object]]:
    """Yield a patient and everything exported about them."""
    resource = builder.patient(patient)
    yield resource
    reference = _ref(resource)
    for checkin in checkins:
        yield from builder.checkin_resources(checkin, reference)
