"""FHIR R4 resources for a cohort's export (docs/fhir.md). Pure: plain values in, JSON out.

What is exported and why:

- a Patient per patient, identified only by the pseudonymous label (no name, no Telegram id);
- a Questionnaire per questionnaire asked (the daily set and each instrument), items coded
  with LOINC where ``prompts/fhir_codes.yaml`` lists a code;
- a QuestionnaireResponse per completed daily check-in (its daily items) and per completed
  instrument administration (every scored item answered); partial, stopped, skipped and
  missed days are not exported as answers, so a missing answer never looks like a zero;
- an Observation per instrument total (LOINC code, band as interpretation, ``derivedFrom``
  the response) and per answered daily item (the project's own code system).

Free-text notes are never exported.

Two ways out, one structure. The ``*_resource`` methods here build each resource as a dict;
they are the only place the structure is written. The bundle's JSON is written by
``bot/domain/fhir_encoder.py``, through templates made from these dicts.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime

from bot.domain.instruments import SPECS, Band, Instrument
from bot.domain.questionnaire import MULTI_SEPARATOR, Item, ItemKind, Questionnaire

DAILY_ITEM_SYSTEM = "urn:moodcheck:fhir:daily-item"
"""The project's code system for daily items: the code is the questionnaire item id."""
ANSWER_SYSTEM = "urn:moodcheck:fhir:answer"
"""Answers without a standard code: ``<system>:<questionnaire id>:<item id>``, code = value."""
BAND_SYSTEM = "urn:moodcheck:fhir:band"
"""Published severity bands of the PHQ-9 and GAD-7 (bot.domain.instruments.Band)."""
OBSERVATION_CATEGORY = "http://terminology.hl7.org/CodeSystem/observation-category"
COMPLETED = "completed"

Json = dict[str, object]


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
    """One check-in with its answers (item id -> stored value)."""

    checkin_id: int
    patient_key: int
    status: str
    authored: datetime
    """When it was completed, or else when it was last answered."""
    answers: Mapping[str, str]


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


def utc_instant(instant: datetime) -> str:
    """Return an aware time in UTC as FHIR wants it, with its offset (``+00:00``)."""
    if instant.utcoffset() is None:
        raise ValueError(f"time must be timezone-aware, got {instant!r}")
    return instant.astimezone(UTC).isoformat(timespec="seconds")


def _hex(text: str, digits: int) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:digits]


class ResourceIds:
    """Stable resource ids: the same row always gets the same id (an EHR can de-duplicate).

    A UUID (RFC 9562 version 8, "custom") made of the cohort (48 bits of a hash), the kind of
    resource (24 bits of a hash) and the row's key (48 bits); ``fullUrl`` is
    ``urn:uuid:<id>``. Formatting numbers is ~10x cheaper than a name-based UUID per resource.
    """

    def __init__(self, cohort: str) -> None:
        digest = _hex(f"moodcheck-fhir/{cohort}", 12)
        self._prefix = f"{digest[:8]}-{digest[8:]}-8"
        self._kinds: dict[str, str] = {}

    def __call__(self, kind: str, key: int) -> str:
        """Return the id of row ``key`` of a kind (``patient``, ``daily-mood``...)."""
        code = self._kinds.get(kind)
        if code is None:
            six = _hex(kind, 6)
            # 8 sets the RFC variant bits (10xx) of the fourth group.
            code = self._kinds[kind] = f"{six[:3]}-8{six[3:]}"
        if not 0 <= key < 1 << 48:
            raise ValueError(f"key out of range for a resource id: {key}")
        return f"{self._prefix}{code}-{key:012x}"


def _coding(system: str, code: Code | str) -> dict[str, str]:
    if isinstance(code, str):
        return {"system": system, "code": code}
    coding = {"system": system, "code": code.code}
    if code.display:
        coding["display"] = code.display
    return coding


def _ref(rid: str) -> dict[str, str]:
    return {"reference": f"urn:uuid:{rid}"}


def _numeric(item: Item) -> bool:
    """Tell whether an item's answers are numbers (a scale, or options valued 0, 1, 2...)."""
    if item.kind is ItemKind.SCALE:
        return True
    return item.kind is ItemKind.CHOICE and all(o.value.isdigit() for o in item.options)


def _answer_code(item: Item, value: str) -> Code:
    for option in item.options:
        if option.value == value:
            return Code(value, option.labels.get("en"))
    return Code(value)


def _short(item: Item) -> str:
    """Return an item's English text's first line, as a display for its code."""
    return item.text("en").split("\n", 1)[0]


def _band(band: Band) -> Json:
    label = band.value.replace("_", " ").capitalize()
    return {"coding": [{"system": BAND_SYSTEM, "code": band.value, "display": label}]}


def entry(resource: Mapping[str, object]) -> Json:
    """Return a Bundle entry for a resource (``fullUrl`` from its UUID id)."""
    return {"fullUrl": f"urn:uuid:{resource['id']}", "resource": resource}


@dataclass(frozen=True, slots=True)
class Part:
    """A questionnaire's answered items in one check-in: what one response holds."""

    questionnaire: Questionnaire
    instrument: Instrument | None


class FhirBuilder:
    """Builds one cohort's resources as dicts: the one place their structure is written."""

    def __init__(
        self,
        settings: ExportSettings,
        codes: CodeTable,
        daily: Questionnaire,
        instruments: Mapping[Instrument, Questionnaire],
    ) -> None:
        self.settings = settings
        self.codes = codes
        self.daily = daily
        self.instruments = dict(instruments)
        self.ids = ResourceIds(settings.cohort)
        self._valid: dict[tuple[str, str, str], bool] = {}
        self._scored = {
            instrument: [q.items[q.position(item_id)] for item_id in SPECS[instrument].item_ids()]
            for instrument, q in self.instruments.items()
        }

    # --- what goes in ---

    def parts(self, checkin: ExportCheckin) -> Iterator[Part]:
        """Yield what a check-in contributes: its daily items when it was completed, and each
        instrument every one of whose scored items has a valid answer."""
        if checkin.status == COMPLETED and any(i.id in checkin.answers for i in self.daily.items):
            yield Part(self.daily, None)
        for instrument, questionnaire in self.instruments.items():
            answers = checkin.answers
            scored = self._scored[instrument]
            if all(item.id in answers and item.accepts(answers[item.id]) for item in scored):
                yield Part(questionnaire, instrument)

    def answered(self, part: Part, answers: Mapping[str, str]) -> Iterator[tuple[Item, str]]:
        """Yield the part's items that have a valid stored answer (never a note's text)."""
        valid = self._valid
        for item in part.questionnaire.items:
            stored = answers.get(item.id)
            if stored is None or item.kind is ItemKind.NOTE:
                continue
            key = (part.questionnaire.id, item.id, stored)
            ok = valid.get(key)
            if ok is None:  # a few distinct answers per item: decided once each
                ok = valid[key] = item.accepts_answer(stored)
            if ok:
                yield item, stored

    def canonical(self, questionnaire: Questionnaire) -> str:
        """Return the canonical reference (``url|version``) of a questionnaire."""
        base = self.settings.canonical_base
        return f"{base}/Questionnaire/{questionnaire.id}|{questionnaire.version}"

    def total(self, instrument: Instrument, answers: Mapping[str, str]) -> int:
        """Return an instrument's total from stored answers (as ``parts`` found them)."""
        return sum(int(answers[item.id]) for item in self._scored[instrument])

    # --- resources ---

    def patient_resource(self, patient: ExportPatient) -> Json:
        """Return a Patient that carries only the pseudonymous label."""
        return {
            "resourceType": "Patient",
            "id": self.ids("patient", patient.key),
            "identifier": [{"system": self.settings.identifier_system, "value": patient.label}],
        }

    def questionnaire_resources(self) -> list[Json]:
        """Return the daily Questionnaire and one per instrument."""
        parts = [Part(self.daily, None)]
        parts.extend(Part(q, i) for i, q in self.instruments.items())
        return [self._questionnaire(part, index) for index, part in enumerate(parts)]

    def _codes_of(self, part: Part) -> InstrumentCodes | None:
        return self.codes.instruments[part.instrument] if part.instrument else None

    def _questionnaire(self, part: Part, index: int) -> Json:
        questionnaire = part.questionnaire
        codes = self._codes_of(part)
        resource: Json = {
            "resourceType": "Questionnaire",
            "id": self.ids(f"questionnaire-{questionnaire.id}", index),
            "url": self.canonical(questionnaire).split("|", 1)[0],
            "version": str(questionnaire.version),
            "name": questionnaire.id.upper(),
            "status": "active",
            "subjectType": ["Patient"],
            "item": [
                self._question(part, item)
                for item in questionnaire.items
                if item.kind is not ItemKind.NOTE  # free text is never exported
            ],
        }
        source = questionnaire.sources.get("en")  # the text exported is the English one
        if source:
            resource["copyright"] = source
        if codes:
            resource["code"] = [_coding(self.codes.loinc_system, codes.panel)]
        return resource

    def _question(self, part: Part, item: Item) -> Json:
        codes = self._codes_of(part)
        question: Json = {
            "linkId": item.id,
            "text": item.text("en"),
            "type": "integer" if item.kind is ItemKind.SCALE else "choice",
        }
        if item.kind is ItemKind.MULTI:
            question["repeats"] = True
        if codes and item.id in codes.items:
            question["code"] = [_coding(self.codes.loinc_system, codes.items[item.id])]
        if item.kind is not ItemKind.SCALE:
            question["answerOption"] = [
                {"valueCoding": self.answer_coding(part, item, option.value)}
                for option in item.options
            ]
        return question

    def answer_coding(self, part: Part, item: Item, value: str) -> dict[str, str]:
        """Return the coding of one answer value: LOINC's answer list for the PHQ-9 and GAD-7
        frequency items, else the project's own system."""
        codes = self._codes_of(part)
        if codes and item.id in codes.frequency_items and value in self.codes.frequency_answers:
            return _coding(self.codes.loinc_system, self.codes.frequency_answers[value])
        system = f"{ANSWER_SYSTEM}:{part.questionnaire.id}:{item.id}"
        return _coding(system, _answer_code(item, value))

    def response_item(self, part: Part, item: Item, stored: str) -> Json:
        """Return one answered item of a QuestionnaireResponse."""
        answers: list[Json]
        if item.kind is ItemKind.SCALE:
            answers = [{"valueInteger": int(stored)}]
        else:
            values = stored.split(MULTI_SEPARATOR) if item.kind is ItemKind.MULTI else [stored]
            answers = [{"valueCoding": self.answer_coding(part, item, v)} for v in values]
        return {"linkId": item.id, "text": item.text("en"), "answer": answers}

    def response_resource(
        self, part: Part, *, rid: str, subject: str, authored: str, items: object
    ) -> Json:
        """Return a QuestionnaireResponse (``items``: the list of answered items)."""
        return {
            "resourceType": "QuestionnaireResponse",
            "id": rid,
            "questionnaire": self.canonical(part.questionnaire),
            "status": "completed",
            "subject": _ref(subject),
            "authored": authored,
            "item": items,
        }

    @staticmethod
    def observation_resource(
        *,
        rid: str,
        code: dict[str, str],
        subject: str,
        authored: str,
        response: str,
        value: tuple[str, object],
    ) -> Json:
        """Return an Observation derived from a response (``value``: its value[x] key and
        value)."""
        return {
            "resourceType": "Observation",
            "id": rid,
            "status": "final",
            "category": [{"coding": [{"system": OBSERVATION_CATEGORY, "code": "survey"}]}],
            "code": {"coding": [code]},
            "subject": _ref(subject),
            "effectiveDateTime": authored,
            "derivedFrom": [_ref(response)],
            value[0]: value[1],
        }

    def total_code(self, instrument: Instrument) -> dict[str, str]:
        """Return the LOINC coding of an instrument's total."""
        return _coding(self.codes.loinc_system, self.codes.instruments[instrument].total)

    @staticmethod
    def item_code(item: Item) -> dict[str, str]:
        """Return the project's coding of a daily item."""
        return {"system": DAILY_ITEM_SYSTEM, "code": item.id, "display": _short(item)}

    @staticmethod
    def value_key(item: Item) -> str:
        """Return the value[x] of a daily item's Observation."""
        return "valueInteger" if _numeric(item) else "valueCodeableConcept"

    def item_value(self, part: Part, item: Item, stored: str) -> tuple[str, object]:
        """Return a daily item's Observation value: an integer, or the answers' codings."""
        if _numeric(item):
            return ("valueInteger", int(stored))
        values = stored.split(MULTI_SEPARATOR)
        return (
            "valueCodeableConcept",
            {"coding": [self.answer_coding(part, item, v) for v in values]},
        )

    def with_band(self, observation: Json, instrument: Instrument, total: object) -> Json:
        """Add the published band of a total as the Observation's interpretation."""
        if isinstance(total, int):
            band = SPECS[instrument].band(total)
            if band is not None:
                observation["interpretation"] = [_band(band)]
        return observation

    def checkin_resources(self, checkin: ExportCheckin, subject: str) -> Iterator[Json]:
        """Yield a check-in's responses and observations as dicts (the reference shape)."""
        authored = utc_instant(checkin.authored)
        for part in self.parts(checkin):
            name = part.instrument.value if part.instrument else "daily"
            response_id = self.ids(f"{name}-response", checkin.checkin_id)
            answered = list(self.answered(part, checkin.answers))
            yield self.response_resource(
                part,
                rid=response_id,
                subject=subject,
                authored=authored,
                items=[self.response_item(part, item, stored) for item, stored in answered],
            )
            if part.instrument is not None:
                total = self.total(part.instrument, checkin.answers)
                observation = self.observation_resource(
                    rid=self.ids(f"{name}-total", checkin.checkin_id),
                    code=self.total_code(part.instrument),
                    subject=subject,
                    authored=authored,
                    response=response_id,
                    value=("valueInteger", total),
                )
                yield self.with_band(observation, part.instrument, total)
                continue
            for item, stored in answered:
                yield self.observation_resource(
                    rid=self.ids(f"daily-{item.id}", checkin.checkin_id),
                    code=self.item_code(item),
                    subject=subject,
                    authored=authored,
                    response=response_id,
                    value=self.item_value(part, item, stored),
                )
