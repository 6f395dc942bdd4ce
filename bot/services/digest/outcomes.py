"""The cohort outcomes report (``/outcomes``, ``moodcheck outcomes``): read the rows, compute
the figures with the pure ``bot.domain.outcomes``, render them. Definitions: docs/outcomes.md.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import date, datetime, time, timedelta

from bot.domain.instruments import SPECS, Instrument
from bot.domain.outcomes import AlertData, OutcomesReport, PatientOutcomeData, outcomes
from bot.domain.schedule import zone_or_error
from bot.domain.scoring import ScoringError, answers_from_values
from bot.services.runtime import Runtime
from storage.models import Cohort
from storage.uow import UnitOfWork

DEFAULT_DAYS = 365
"""``/outcomes`` without dates covers the year up to today."""
_INSTRUMENTS = (Instrument.PHQ9, Instrument.GAD7)
_ITEMS = tuple(item for instrument in _INSTRUMENTS for item in SPECS[instrument].item_ids())
_FIRST_ITEMS = tuple(SPECS[instrument].item_ids()[0] for instrument in _INSTRUMENTS)
"""A completed administration answered its first item: the check-ins read are those."""


class OutcomesService:
    """Builds and renders a cohort's outcomes report."""

    def __init__(self, runtime: Runtime) -> None:
        self._rt = runtime

    async def report(
        self, uow: UnitOfWork, cohort: Cohort, start: date, end: date
    ) -> OutcomesReport:
        """Compute the report of a cohort over [start, end] (local dates of the cohort)."""
        zone = zone_or_error(cohort.timezone)

        def local(moment: datetime | None) -> date | None:
            return None if moment is None else moment.astimezone(zone).date()

        totals: dict[tuple[int, Instrument], list[tuple[date, int]]] = defaultdict(list)
        for patient_id, day, values in await uow.digest.instrument_checkins(
            cohort.id, _ITEMS, _FIRST_ITEMS
        ):
            for instrument in _INSTRUMENTS:
                try:
                    total = sum(answers_from_values(instrument, values))
                except ScoringError:
                    continue  # not a completed administration
                totals[patient_id, instrument].append((day, total))
        statuses: dict[int, list[str]] = defaultdict(list)
        for patient_id, status, count in await uow.outcomes.checkin_status_counts(
            cohort.id, start, end
        ):
            statuses[patient_id].extend([status] * count)  # counted by the database
        patients = [
            PatientOutcomeData(
                enrolled=local(p.consented_at) or start,
                left=local(p.left_at),
                phq9=totals[p.id, Instrument.PHQ9],
                gad7=totals[p.id, Instrument.GAD7],
                checkin_statuses=statuses[p.id],
            )
            for p in await uow.outcomes.patients(cohort.id)
        ]
        since = datetime.combine(start, time(0), zone)
        until = datetime.combine(end + timedelta(days=1), time(0), zone)
        alerts = [
            AlertData(tier, raised, acknowledged)
            for tier, raised, acknowledged in await uow.outcomes.alerts(cohort.id, since, until)
        ]
        return outcomes(patients, alerts, start=start, end=end)

    def render(self, report: OutcomesReport, cohort: str, locale: str) -> str:
        """Return the report as the group sees it."""
        return self._rt.renderer.render("provider_outcomes", locale, cohort=cohort, r=report)

    async def text(self, cohort_name: str, start: date, end: date) -> str:
        """Return the rendered report of a cohort (for the command line)."""
        async with self._rt.uow.reading() as uow:
            cohort = await uow.cohorts.by_name(cohort_name)
            if cohort is None:
                raise LookupError(f"cohort {cohort_name!r} has no data yet")
            report = await self.report(uow, cohort, start, end)
        return self.render(report, cohort.name, cohort.locale)
