"""A cohort's data as a FHIR R4 Bundle (type ``collection``), written as a stream.

The resources come from the pure builder (``bot.domain.fhir``); this service reads the rows in
batches, writes the Bundle's JSON as it goes (a large cohort never sits in memory at once) and
checks resources with the ``fhir.resources`` R4B models (R4B and R4 define the four resource
types exported here identically). Checking every resource costs about 75 us each (about a
minute for 1,000 patients x 12 weeks), so by default the first resource of each kind (type and
questionnaire) is checked, which catches any shape the builder gets wrong; ``check_all``
checks every one (the tests do). See docs/fhir.md.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from typing import IO, Any

from bot.config import CohortConfig
from bot.domain.fhir import (
    BundleCounts,
    CodeTable,
    ExportCheckin,
    ExportPatient,
    ExportSettings,
    FhirBuilder,
    bundle_envelope,
    entry,
    patient_resources,
)
from bot.domain.instruments import Instrument
from bot.domain.questionnaire import Questionnaire
from bot.services.runtime import Runtime
from prompts.fhir_codes import load_fhir_codes
from prompts.questionnaires import load_questionnaire, questionnaire_path
from storage.export import AnswerRow
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
    """Validates resources with fhir.resources: all of them, or the first of each kind."""

    def __init__(self, *, check_all: bool) -> None:
        self._all = check_all
        self._seen: set[tuple[str, str]] = set()
        self.checked = 0

    def __call__(self, resource: dict[str, Any]) -> None:
        kind = (str(resource["resourceType"]), str(resource.get("questionnaire", "")))
        if not self._all and kind in self._seen:
            return
        self._seen.add(kind)
        # Imported on first use: the models take ~0.3 s to import, which start-up need not pay.
        from fhir.resources.R4B import get_fhir_model_class  # noqa: PLC0415

        model = get_fhir_model_class(kind[0])
        try:
            model.model_validate(resource)
        except ValueError as exc:  # pydantic's ValidationError is a ValueError
            message = f"{kind[0]} {resource.get('id')} does not validate: {exc}"
            raise FhirExportError(message) from exc
        self.checked += 1


def _checkins(rows: Sequence[AnswerRow]) -> Iterator[ExportCheckin]:
    """Group consecutive answer rows (ordered by check-in) into check-ins."""
    current: list[AnswerRow] = []
    for row in rows:
        if current and row.checkin_id != current[0].checkin_id:
            yield _checkin(current)
            current = []
        current.append(row)
    if current:
        yield _checkin(current)


def _checkin(rows: list[AnswerRow]) -> ExportCheckin:
    first = rows[0]
    return ExportCheckin(
        patient_key=first.patient_id,
        checkin_id=first.checkin_id,
        local_date=first.local_date,
        status=first.status,
        questionnaire_id=first.questionnaire,
        completed_at=first.completed_at,
        closes_at=first.closes_at,
        answers={row.item_id: row.value for row in rows},
        answered_at=rows[-1].answered_at,
    )


async def _by_patient(
    batches: AsyncIterator[Sequence[AnswerRow]],
) -> AsyncIterator[tuple[int, list[ExportCheckin]]]:
    """Yield (patient id, check-ins) from answer rows ordered by patient and check-in; a
    check-in whose rows span two batches is joined before it is yielded."""
    pending: list[AnswerRow] = []
    async for batch in batches:
        pending.extend(batch)
        if not pending:
            continue
        last_patient = pending[-1].patient_id
        done = [row for row in pending if row.patient_id != last_patient]
        pending = [row for row in pending if row.patient_id == last_patient]
        for patient_id, checkins in _group(done):
            yield patient_id, checkins
    for patient_id, checkins in _group(pending):
        yield patient_id, checkins


def _group(rows: list[AnswerRow]) -> Iterator[tuple[int, list[ExportCheckin]]]:
    start = 0
    for index in range(1, len(rows) + 1):
        if index == len(rows) or rows[index].patient_id != rows[start].patient_id:
            yield rows[start].patient_id, list(_checkins(rows[start:index]))
            start = index


class FhirExport:
    """Writes a cohort's FHIR Bundle."""

    def __init__(self, runtime: Runtime, codes: CodeTable | None = None) -> None:
        self._rt = runtime
        self._codes = codes or load_fhir_codes()

    def _builder(self, cohort: CohortConfig) -> FhirBuilder:
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
            return await self._write(uow, cohort_name, out, check_all, now)
        async with self._rt.uow.reading() as reading:
            return await self._write(reading, cohort_name, out, check_all, now)

    async def _write(
        self,
        uow: UnitOfWork,
        cohort_name: str,
        out: IO[str],
        check_all: bool,
        now: datetime | None,
    ) -> ExportResult:
        config = self._rt.config.cohort(cohort_name)
        cohort = await uow.cohorts.by_name(cohort_name)
        if cohort is None:
            raise FhirExportError(f"cohort {cohort_name!r} has no data yet")
        builder = self._builder(config)
        counts = BundleCounts()
        check = _Checker(check_all=check_all)
        write: Callable[[str], object] = out.write
        envelope = _JSON.encode(bundle_envelope(now or self._rt.clock.now()))
        write(envelope[:-1] + ',"entry":[')
        first = True

        def emit(resource: dict[str, Any]) -> None:
            nonlocal first
            check(resource)
            counts.add(str(resource["resourceType"]))
            write(("" if first else ",") + _JSON.encode(entry(resource)))
            first = False

        for questionnaire in builder.questionnaires():
            emit(questionnaire)
        include_left = config.export_discharged
        patients = await uow.export.patients(cohort.id, include_left=include_left)
        labels = {p.id: p.label for p in patients}
        exported: set[int] = set()
        async for patient_id, checkins in _by_patient(
            uow.export.answers(cohort.id, include_left=include_left)
        ):
            label = labels.get(patient_id)
            if label is None:  # enrolled after the patient list was read: next time
                continue
            for resource in patient_resources(builder, ExportPatient(patient_id, label), checkins):
                emit(resource)
            exported.add(patient_id)
        for patient in patients:  # patients with no answers yet
            if patient.id not in exported:
                emit(builder.patient(ExportPatient(patient.id, patient.label)))
        write("]}")
        return ExportResult(counts, check.checked)
