"""Provider commands that show the care team what it asked for: the patient list, one
patient's last 14 days, a patient's messages, open alerts, the cohort's export (CSV or FHIR),
its outcome figures and the weekly digest on demand. Each view of patient data is audited."""

from __future__ import annotations

import io
from datetime import date, datetime, timedelta
from typing import Any

from bot.config import ConfigError
from bot.domain.questionnaire import Questionnaire
from bot.domain.schedule import zone_or_error
from bot.services.alerts.alert_text import AlertText
from bot.services.checkin.dosing import treatment_view
from bot.services.digest.fhir_export import FhirExport
from bot.services.digest.outcomes import DEFAULT_DAYS, OutcomesService
from bot.services.digest.weekly import DigestService
from bot.services.envelope import in_update
from bot.services.outbox import queue_document
from bot.services.provider import provider_views as pv
from bot.services.provider.steps import CommandSteps, ProviderCall, Reply, local_day, local_today
from bot.services.runtime import Runtime
from storage.models import Alert, Cohort
from storage.uow import UnitOfWork

MAX_GROUP_FILE_BYTES = 45 * 1024 * 1024
"""Largest export sent to the group: Telegram takes files up to 50 MB from bots; the rest is
room for the request's own overhead. Larger cohorts use ``moodcheck export``."""
UNDELIVERED_WINDOW = timedelta(days=7)
"""How far back /alerts reports messages that could not be delivered."""


class ReportCommands(CommandSteps):
    """/patients, /patient, /messages, /alerts, /export, /outcomes and /digest."""

    def __init__(self, runtime: Runtime, digest: DigestService) -> None:
        super().__init__(runtime)
        self._text = AlertText(runtime)
        self._digest = digest
        self._fhir = FhirExport(runtime)
        self._reports = OutcomesService(runtime)

    async def send_digest(self, call: ProviderCall) -> None:
        """/digest: this week's digest now. The digest service opens its own transaction (and
        is replay-safe through the request key), so only the checks happen here."""
        asked: list[Cohort] = []

        async def request(uow: UnitOfWork, now: datetime) -> None:
            cohort = await self._cohort(uow, now, call)
            if cohort is not None:
                uow.audit.record(
                    at=now,
                    actor=call.actor,
                    action="digest_requested",
                    cohort_id=cohort.id,
                    details={},
                )
                asked.append(cohort)

        await in_update(self._rt, call.update_id, request)
        for cohort in asked:
            await self._digest.send_now(
                cohort.name, request_key=str(call.update_id), actor=call.actor
            )

    async def patients(
        self, uow: UnitOfWork, now: datetime, call: ProviderCall, cohort: Cohort
    ) -> None:
        patients = await uow.provider.patients_of(cohort.id)
        ids = [p.id for p in patients]
        earliest = local_today(now, cohort.timezone) - timedelta(days=pv.ADHERENCE_DAYS + 1)
        checkins = await uow.provider.checkins_since(ids, earliest)
        by_patient: dict[int, list[tuple[date, str]]] = {}
        for checkin in checkins:
            by_patient.setdefault(checkin.patient_id, []).append(
                (checkin.local_date, checkin.status)
            )
        last = await uow.provider.last_done_dates(ids, sorted(pv.DONE))
        open_alerts: dict[int, int] = {}
        for alert, _ in await uow.provider.unresolved_alerts(cohort.id):
            if alert.patient_id is not None:  # joined to its patient: always
                open_alerts[alert.patient_id] = open_alerts.get(alert.patient_id, 0) + 1
        rows = []
        for patient in patients:
            score = pv.adherence(
                by_patient.get(patient.id, []), local_today(now, patient.timezone)
            )
            rows.append(
                {
                    "label": patient.label,
                    "status": patient.status,
                    "paused_until": local_day(patient.paused_until, patient.timezone),
                    "done": score.done,
                    "due": score.due,
                    "percent": score.percent,
                    "last": last[patient.id].isoformat() if patient.id in last else None,
                    "alerts": open_alerts.get(patient.id, 0),
                }
            )
        await self._reply(
            uow,
            now,
            call,
            cohort,
            Reply("provider_patients", {"cohort": cohort.name, "patients": rows}),
            audit="provider_listed_patients",
        )

    async def patient(
        self, uow: UnitOfWork, now: datetime, call: ProviderCall, cohort: Cohort
    ) -> None:
        patient = await self._target(uow, now, call, cohort)
        if patient is None:
            return
        today = local_today(now, patient.timezone)
        checkins = await uow.provider.checkins_since(
            [patient.id], today - timedelta(days=pv.TABLE_DAYS - 1)
        )
        answers = await uow.answers.of_checkins([c.id for c in checkins])
        enrolled_on = local_today(patient.consented_at, patient.timezone)
        rows = pv.day_rows(
            ((c.local_date, c.status, answers.get(c.id, {})) for c in checkins),
            today,
            enrolled_on,
        )
        alerts = await uow.provider.unresolved_alerts(cohort.id, patient.id)
        await self._reply(
            uow,
            now,
            call,
            cohort,
            Reply(
                "provider_patient",
                {
                    "label": patient.label,
                    "status": patient.status,
                    "paused_until": local_day(patient.paused_until, patient.timezone),
                    "timezone": patient.timezone,
                    "checkin_time": patient.checkin_time,
                    **treatment_view(self._rt, cohort, patient),
                    **pv.day_table(rows, self._daily_set(cohort), cohort.locale),
                    "alerts": [
                        self._alert_view(a, label, now, cohort.locale) for a, label in alerts
                    ],
                },
            ),
            audit="provider_viewed_patient",
            patient=patient,
        )

    def _daily_set(self, cohort: Cohort) -> Questionnaire | None:
        """The cohort's daily questionnaire, whose questions give /patient its columns
        (None for a cohort left out of the configuration: dates and statuses only)."""
        try:
            name = self._rt.config.cohort(cohort.name).questionnaire
        except ConfigError:
            return None
        return self._rt.config.questionnaires.get(name)

    async def messages(
        self, uow: UnitOfWork, now: datetime, call: ProviderCall, cohort: Cohort
    ) -> None:
        """/messages LABEL: what the patient wrote (free text, daily notes, what they sent
        that is not read), newest first, in one message. Reading a patient's words is
        audited like every view of their data."""
        patient = await self._target(uow, now, call, cohort)
        if patient is None:
            return
        found = await uow.history.recent_messages(
            patient.id, now - timedelta(days=pv.MESSAGES_DAYS), pv.MESSAGES_LIMIT
        )
        zone = zone_or_error(cohort.timezone)
        items = [
            {
                "time": m.received_at.astimezone(zone).strftime("%Y-%m-%d %H:%M"),
                "kind": m.kind,
                "body": pv.shorten(m.body) if m.body is not None else None,
                "crisis": m.crisis,
            }
            for m in found
        ]
        values: dict[str, Any] = {
            "label": patient.label,
            "days": pv.MESSAGES_DAYS,
            "timezone": cohort.timezone,
        }
        shown = pv.fit_newest(
            items,
            lambda listed: self._rt.renderer.render(
                "provider_messages",
                cohort.locale,
                items=listed,
                older=len(items) - len(listed),
                **values,
            ),
        )
        text = self._rt.renderer.render(
            "provider_messages",
            cohort.locale,
            items=shown,
            older=len(items) - len(shown),
            **values,
        )
        await self._say(uow, now, cohort.provider_chat_id, text, about=patient)
        uow.audit.record(
            at=now,
            actor=call.actor,
            action="provider_read_messages",
            cohort_id=cohort.id,
            patient_id=patient.id,
            details={"chat_id": call.chat_id, "shown": len(shown), "found": len(items)},
        )

    async def alerts(
        self, uow: UnitOfWork, now: datetime, call: ProviderCall, cohort: Cohort
    ) -> None:
        alerts = await uow.provider.unresolved_alerts(cohort.id)
        # Messages given up on after every retry: the team must know what never arrived.
        group, patients = await uow.provider.undelivered(cohort, now - UNDELIVERED_WINDOW)
        await self._reply(
            uow,
            now,
            call,
            cohort,
            Reply(
                "provider_alerts",
                {
                    "alerts": [
                        self._alert_view(a, label, now, cohort.locale) for a, label in alerts
                    ],
                    "undelivered_group": group,
                    "undelivered_patients": patients,
                },
            ),
            audit="provider_listed_alerts",
        )

    async def export(
        self, uow: UnitOfWork, now: datetime, call: ProviderCall, cohort: Cohort
    ) -> None:
        """/export: every answer as CSV; /export fhir: the cohort as a FHIR R4 Bundle."""
        if call.args and call.args != ("fhir",):
            await self._reply(uow, now, call, cohort, Reply("provider_export_usage", {}))
            return
        if call.args == ("fhir",):
            await self._export_fhir(uow, now, call, cohort)
            return
        questionnaires = list(self._rt.config.questionnaires.values())
        items = {item.id: item for q in questionnaires for item in q.items}
        csv_rows = await uow.export.csv_rows(cohort.id)
        content = pv.export_csv(csv_rows, items)
        rows = content.count("\n") - 1
        today = local_today(now, cohort.timezone)
        name = f"moodcheck-{cohort.name}-{today.isoformat()}"
        await queue_document(
            uow,
            now=now,
            chat_id=cohort.provider_chat_id,
            content=content.encode(),
            filename=f"{name}.csv",
            caption=self._rt.renderer.render(
                "provider_export_caption", cohort.locale, cohort=cohort.name, rows=rows
            ),
        )
        await queue_document(
            uow,
            now=now,
            chat_id=cohort.provider_chat_id,
            content=pv.data_dictionary_csv(questionnaires).encode(),
            filename=f"{name}-dictionary.csv",
            caption=self._rt.renderer.render("provider_export_dictionary_caption", cohort.locale),
        )
        uow.audit.record(
            at=now,
            actor=call.actor,
            action="provider_exported",
            cohort_id=cohort.id,
            details={"chat_id": call.chat_id, "rows": rows},
        )
        exported = {row.label for row in csv_rows}
        uow.audit.record_reads(
            at=now,
            actor=call.actor,
            action="patient_exported",
            cohort_id=cohort.id,
            patient_ids=[p.id for p in await uow.provider.patients_of(cohort.id)
                         if p.label in exported],
            details={"format": "csv"},
        )  # fmt: skip

    async def _export_fhir(
        self, uow: UnitOfWork, now: datetime, call: ProviderCall, cohort: Cohort
    ) -> None:
        buffer = io.StringIO()
        result = await self._fhir.write(cohort.name, buffer, now=now, uow=uow)
        content = buffer.getvalue().encode()
        resources = sum(result.counts.by_type.values())
        details = {"chat_id": call.chat_id, "format": "fhir", "resources": resources}
        if len(content) > MAX_GROUP_FILE_BYTES:
            await self._reply(
                uow,
                now,
                call,
                cohort,
                Reply("provider_export_too_large", {"cohort": cohort.name}),
                audit="provider_export_too_large",
                details=details,
            )
            return
        today = local_today(now, cohort.timezone)
        await queue_document(
            uow,
            now=now,
            chat_id=cohort.provider_chat_id,
            content=content,
            filename=f"moodcheck-{cohort.name}-{today.isoformat()}.fhir.json",
            caption=self._rt.renderer.render(
                "provider_export_fhir_caption",
                cohort.locale,
                cohort=cohort.name,
                patients=result.counts.by_type.get("Patient", 0),
                resources=resources,
            ),
        )
        uow.audit.record(
            at=now,
            actor=call.actor,
            action="provider_exported",
            cohort_id=cohort.id,
            details=details,
        )
        uow.audit.record_reads(
            at=now,
            actor=call.actor,
            action="patient_exported",
            cohort_id=cohort.id,
            patient_ids=result.patient_ids,
            details={"format": "fhir"},
        )

    async def outcomes(
        self, uow: UnitOfWork, now: datetime, call: ProviderCall, cohort: Cohort
    ) -> None:
        """/outcomes [FROM TO]: the cohort's outcome figures (docs/outcomes.md)."""
        end = local_today(now, cohort.timezone)
        start = end - timedelta(days=DEFAULT_DAYS)
        if call.args:
            period = _period(call.args)
            if period is None or period[1] > end:
                await self._reply(uow, now, call, cohort, Reply("provider_outcomes_usage", {}))
                return
            start, end = period
        report = await self._reports.report(uow, cohort, start, end)
        for part in pv.split_message(self._reports.render(report, cohort.name, cohort.locale)):
            await self._say(uow, now, cohort.provider_chat_id, part)
        uow.audit.record(
            at=now,
            actor=call.actor,
            action="provider_viewed_outcomes",
            cohort_id=cohort.id,
            details={"chat_id": call.chat_id, "from": start.isoformat(), "to": end.isoformat()},
        )

    def _alert_view(self, alert: Alert, label: str, now: datetime, locale: str) -> dict[str, Any]:
        minutes = max(0, int((now - alert.created_at).total_seconds() // 60))
        return {
            **self._text.view(alert.rule, alert.details, locale),
            "label": label,
            "tier": alert.tier,
            "status": alert.status,
            "age_minutes": minutes,
        }


def _period(args: tuple[str, ...]) -> tuple[date, date] | None:
    """Return (FROM, TO) from two ISO dates, FROM before TO; None for anything else."""
    if len(args) != 2:
        return None
    try:
        start, end = date.fromisoformat(args[0]), date.fromisoformat(args[1])
    except ValueError:
        return None
    return (start, end) if start < end else None
