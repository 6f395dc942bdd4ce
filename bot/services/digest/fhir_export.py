"""A cohort's data as a FHIR R4 Bundle (type ``collection``), written as a stream.

The resources come from the pure builder (``bot.domain.fhir``), written as JSON by
``bot.domain.fhir_encoder``; this service reads the rows in batches (check-ins and answers,
both in check-in order, merged here), writes the Bundle's JSON as it goes, so a large cohort
never sits in memory at once, and checks resources with the ``fhir.resources`` R4B models (R4B
and R4 define the four resource types exported here the same way). Checking every resource
would take about a minute for a large cohort (docs/fhir.md), so by default the first resource
of each kind is checked: entries of one kind come from one template and differ only in ids,
times and values. ``check_all`` checks every one (the tests do). See docs/fhir.md.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from typing import IO

from bot.cohort_config import CohortConfig
from bot.domain.fhir import (
    BundleCounts,
    CodeTable,
    ExportCheckin,
    ExportPatient,
    ExportSettings,
    FhirBuilder,
    entry,
)
from bot.domain.fhir_encoder import BUNDLE_TAIL, Encoded, Encoder, bundle_head
from bot.domain.instruments import Instrument
from bot.domain.questionnaire import Questionnaire
from bot.services.runtime import Runtime
from prompts.fhir_codes import load_fhir_codes
from prompts.questionnaires import load_questionnaire, questionnaire_path
from storage.queries.export import ExportedAnswer, ExportedCheckin
from storage.uow import UnitOfWork

_JSON = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), check_circular=False)


class FhirExportError(ValueError):
    """The export cannot be made (unknown cohort, or a resource that does not validate)."""


@dataclass(frozen=True, slots=True)
class ExportResult:
    """What was written."""

    counts: BundleCounts
    checked: int
    """How many resources were validated with fhir.resources."""
    patient_ids: tuple[int, ...] = ()
    """The patients in the Bundle (their reads are audited)."""


@cache
def _instrument_questionnaire(instrument: Instrument) -> Questionnaire:
    return load_questionnaire(questionnaire_path(instrument.value))


def cohort_instruments(cohort: CohortConfig) -> list[Instrument]:
    """Return the instruments a cohort asks (weekly ones and the PCL-5 where enabled)."""
    asked = [Instrument(name) for name in cohort.weekly_instruments]
    if cohort.pcl5_every_weeks is not None and Instrument.PCL5 not in asked:
        asked.append(Instrument.PCL5)
    return asked


def identifier_system(cohort: CohortConfig) -> str:
    """Return the URI under which the cohort's labels are patient identifiers."""
    return cohort.fhir_identifier_system or f"urn:moodcheck:cohort:{cohort.name}:label"


class _Checker:
    """Validates entries with fhir.resources: all of them, or the first of each kind."""

    def __init__(self, *, check_all: bool) -> None:
        self._all = check_all
        self._seen: set[str] = set()
        self.checked = 0

    def __call__(self, encoded: Encoded) -> None:
        if not self._all and encoded.kind in self._seen:
            return
        self._seen.add(encoded.kind)
        # Imported on first use: the models take ~0.3 s to import, which start-up need not pay.
        from fhir.resources.R4B import get_fhir_model_class  # noqa: PLC0415

        resource = json.loads(encoded.json)["resource"]
        try:
            get_fhir_model_class(encoded.resource_type).model_validate(resource)
        except ValueError as exc:  # pydantic's ValidationError is a ValueError
            message = f"{encoded.resource_type} {resource.get('id')} does not validate: {exc}"
            raise FhirExportError(message) from exc
        self.checked += 1


async def join_answers(
    checkins: AsyncIterator[list[ExportedCheckin]],
    answers: AsyncIterator[list[ExportedAnswer]],
) -> AsyncIterator[ExportCheckin]:
    """Join two streams ordered by check-in id: each check-in with its answers."""
    batch: list[ExportedAnswer] = []
    index = 0
    exhausted = False
    async for rows in checkins:
        for row in rows:
            values: dict[str, str] = {}
            while True:
                if index == len(batch):
                    if exhausted:
                        break
                    more = await anext(answers, None)
                    if more is None:
                        exhausted = True
                        break
                    batch, index = more, 0
                    continue
                checkin_id, item_id, value = batch[index]
                if checkin_id > row.id:
                    break
                if checkin_id == row.id:
                    values[item_id] = value
                index += 1
            yield ExportCheckin(
                checkin_id=row.id,
                patient_key=row.patient_id,
                status=row.status,
                authored=row.completed_at or row.last_answered_at,
                answers=values,
            )


class FhirExport:
    """Writes a cohort's FHIR Bundle."""

    def __init__(self, runtime: Runtime, codes: CodeTable | None = None) -> None:
        self._rt = runtime
        self._codes = codes or load_fhir_codes()

    def builder(self, cohort: CohortConfig) -> FhirBuilder:
        """Return the resource builder for a cohort."""
        settings = ExportSettings(cohort=cohort.name, identifier_system=identifier_system(cohort))
        instruments = {i: _instrument_questionnaire(i) for i in cohort_instruments(cohort)}
        daily = self._rt.config.questionnaires[cohort.questionnaire]
        return FhirBuilder(settings, self._codes, daily, instruments)

    async def write(
        self,
        cohort_name: str,
        out: IO[str],
        *,
        check_all: bool = False,
        now: datetime | None = None,
        uow: UnitOfWork | None = None,
    ) -> ExportResult:
        """Write the cohort's Bundle as JSON to ``out`` and return what it holds.

        Reads in ``uow`` when given (a provider command's transaction), else in a read-only
        unit of work of its own.
        """
        if uow is not None:
            return await self._write(uow, cohort_name, out, check_all=check_all, now=now)
        async with self._rt.uow.reading() as reading:
            return await self._write(reading, cohort_name, out, check_all=check_all, now=now)

    async def _write(
        self,
        uow: UnitOfWork,
        cohort_name: str,
        out: IO[str],
        *,
        check_all: bool,
        now: datetime | None,
    ) -> ExportResult:
        config = self._rt.config.cohort(cohort_name)
        cohort = await uow.cohorts.by_name(cohort_name)
        if cohort is None:
            raise FhirExportError(f"cohort {cohort_name!r} has no data yet")
        builder = self.builder(config)
        encoder = Encoder(builder)
        counts = BundleCounts()
        check = _Checker(check_all=check_all)
        out.write(bundle_head(now or self._rt.clock.now()))
        separator = ""

        def emit(encoded: Encoded) -> None:
            nonlocal separator
            check(encoded)
            counts.add(encoded.resource_type)
            out.write(separator)
            out.write(encoded.json)
            separator = ","

        for resource in builder.questionnaire_resources():
            emit(Encoded("Questionnaire", str(resource["id"]), _JSON.encode(entry(resource))))
        include_left = config.export_discharged
        patients = await uow.export.patients(cohort.id, include_left=include_left)
        subjects: dict[int, str] = {}
        for patient in patients:
            encoded = encoder.patient(ExportPatient(patient.id, patient.label))
            subjects[patient.id] = builder.ids("patient", patient.id)
            emit(encoded)
        async for checkin in join_answers(
            uow.export.checkins(cohort.id, include_left=include_left),
            uow.export.answers(cohort.id, include_left=include_left),
        ):
            subject = subjects.get(checkin.patient_key)
            if subject is None:  # enrolled after the patient list was read: next time
                continue
            for encoded in encoder.checkin(checkin, subject):
                emit(encoded)
        out.write(BUNDLE_TAIL)
        return ExportResult(counts, check.checked, tuple(subjects))
