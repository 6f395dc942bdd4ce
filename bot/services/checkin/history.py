"""Patient-level rules, wired in: build a patient's history from the database, ask the pure
engine (``bot.domain.escalation.evaluate``) what is due, and hand the result to ``Alerting``.

Called when a check-in ends (completed or stopped, in the patient's own transaction) and when
the window scan closes check-ins as missed or partial.
"""

from __future__ import annotations

from datetime import datetime

from bot.domain.alert_details import rule_details
from bot.domain.alerts import Tier
from bot.domain.checkin import CheckinStatus
from bot.domain.escalation import evaluate
from bot.domain.history import DailyCheckin, InstrumentResult, PastAlert, PatientHistory
from bot.domain.instruments import SPECS, Instrument
from bot.domain.scoring import answers_from_values
from bot.services.alerts.alerting import Alerting, Raise
from bot.services.checkin.courses import current_course_start
from bot.services.runtime import Runtime
from storage.models import Alert, Cohort, Patient
from storage.uow import UnitOfWork

_FINISHED = frozenset({CheckinStatus.COMPLETED, CheckinStatus.STOPPED})


async def patient_history(uow: UnitOfWork, patient: Patient) -> PatientHistory:
    """Return everything the patient-level rules look at for one patient.

    Every check-in of the current treatment course is read (the baseline is the median of
    the course's *first* seven; a new course restarts it: bot.services.checkin.courses); a patient
    has one per day, so this stays small. A weekly instrument is part of its day's check-in
    (bot.domain.weekly); it counts once every one of its items was answered.
    """
    checkins = []
    instruments: list[InstrumentResult] = []
    started_on = current_course_start(patient)
    for checkin, answers, _ in await uow.answers.of_patient(patient.id):
        if checkin.local_date < started_on:
            continue
        instruments.extend(
            InstrumentResult(
                instrument,
                checkin.local_date,
                answers_from_values(instrument, answers),
                checkin.completed_at,
            )
            for instrument in Instrument
            if all(item in answers for item in SPECS[instrument].item_ids())
        )
        status = CheckinStatus(checkin.status)
        closed_at = None
        if status is not CheckinStatus.OPEN:
            closed_at = checkin.completed_at or checkin.closes_at
        checkins.append(
            DailyCheckin(
                local_date=checkin.local_date,
                status=status,
                answers=answers,
                completed_at=checkin.completed_at if status in _FINISHED else None,
                closed_at=closed_at,
            )
        )
    alerts = tuple(
        PastAlert(a.rule, Tier(a.tier), a.created_at, a.event_key or "")
        for a in await uow.alerts.of_patient(patient.id)
    )
    return PatientHistory(
        checkins=tuple(checkins),
        instruments=tuple(instruments),
        alerts=alerts,
        course_start=started_on,
    )


class PatientRules:
    """Evaluates the patient-level rules for one patient inside the caller's transaction."""

    def __init__(self, runtime: Runtime, alerting: Alerting) -> None:
        self._rt = runtime
        self._alerting = alerting

    async def due(self, uow: UnitOfWork, now: datetime, patient: Patient) -> list[Raise]:
        """Return the patient-level alerts due now, as raises for ``Alerting``."""
        rules = self._rt.config.escalation
        if not rules.rules:
            return []
        await uow.flush()  # the caller's changes (a status, an answer) count
        history = await patient_history(uow, patient)
        by_id = {rule.id: rule for rule in rules.rules}
        return [
            Raise(
                alert.rule_id,
                alert.tier,
                alert.event_key,
                patient_scoped=True,
                announce=alert.tier is not Tier.ROUTINE,
                details=rule_details(by_id[alert.rule_id], alert.values),
            )
            for alert in evaluate(history, rules, now)
        ]

    async def check(
        self, uow: UnitOfWork, now: datetime, cohort: Cohort, patient: Patient
    ) -> list[Alert]:
        """Raise what is due for a patient (one group message for all of it)."""
        raises = await self.due(uow, now, patient)
        if not raises:
            return []
        return await self._alerting.raise_(uow, now, cohort, patient, raises)
